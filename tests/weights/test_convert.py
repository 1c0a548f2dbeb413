"""Converters: torchvision and keras.applications weights give the source model's outputs.

torchvision's side comes from fixtures (tests/weights/fixtures/torchvision/, made by
make_torch_fixtures.py with torch installed): the state-dict keys and shapes, and the
outputs of torchvision's model filled with `seeded.seeded_state`. Here the same weights are
drawn with NumPy alone, converted into kcnn and compared, within
1e-4 × max(1, max|output|) (acceptance 1 of issue 9). keras.applications' side is the real
keras.applications model, built here. check_all_torchvision.py checks every fixture
(full-size VGGs, minutes).
"""

import re

import keras
import numpy as np
import pytest
from safetensors.numpy import save_file

import kcnn
from conftest import count_trainable
from kcnn.models.googlenet import is_torchvision_form
from weights import torch_cases
from weights.seeded import seeded_images, seeded_state
from kcnn.weights._convert import WeightsMismatchError
from kcnn.weights.convert_keras import load_keras
from kcnn.weights.convert_torchvision import load_torchvision

BOUND = 1e-4


def _weights(model):
    return [np.array(w) for w in model.get_weights()]


def _assert_unchanged(before, model):
    after = _weights(model)
    assert len(before) == len(after)
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


# --- outputs against torchvision ----------------------------------------------------------

@pytest.fixture(scope="module")
def resnet18():
    """torchvision resnet18's fixture, its seeded state dict and a loaded kcnn resnet18."""
    rec = torch_cases.record("resnet18")
    state = torch_cases.state(rec)
    model = torch_cases.kcnn_model(rec)
    report = load_torchvision(model, state)
    return rec, state, model, report


def _shapes_only(case):
    """A state dict with the fixture's keys and shapes (zeros: for refusals)."""
    return {k: np.zeros(shape, dtype) for k, shape, dtype in torch_cases.record(case)["keys"]}


def test_resnet18_gives_torchvisions_outputs(resnet18):
    rec, _, model, report = resnet18
    assert report.complete and len(report.loaded) == len(model.weights)
    worst = torch_cases.worst_differences(model, rec)
    assert worst["predictions"] <= BOUND, worst


@pytest.mark.slow
def test_googlenet_torchvision_form_gives_torchvisions_outputs_and_aux_outputs(tmp_path):
    # As torchvision's pretrained googlenet: transform_input=True, aux heads (called in
    # eval mode on the maps after (4a) and (4d)). 100×100: the stem's ceil-mode pools see
    # odd sizes, the aux heads' adaptive pool overlapping windows (6×6 -> 4×4).
    rec = torch_cases.record("googlenet")
    model = torch_cases.kcnn_model(rec)
    load_torchvision(model, torch_cases.state(rec))
    worst = torch_cases.worst_differences(model, rec)
    assert set(worst) == {"predictions", "aux1", "aux2"}
    assert max(worst.values()) <= BOUND, worst
    # torchvision's counts: 13,004,888 with the aux heads, 6,624,904 without (the
    # adaptive aux pool makes them independent of the input size).
    aux = sum(count_trainable(model.get_layer(n)) for n in ("aux1", "aux2"))
    assert (count_trainable(model), count_trainable(model) - aux) == (13_004_888, 6_624_904)
    # Without aux heads, the file's aux tensors are dropped, as torchvision does; and
    # `weights=` a file builds torchvision's form with transform_input by itself.
    save_file(torch_cases.state(rec), str(tmp_path / "googlenet.safetensors"))
    main = kcnn.models.googlenet(input_shape=(100, 100, 3),
                                 weights=tmp_path / "googlenet.safetensors")
    assert main.get_layer("transform_input") and is_torchvision_form(main)
    got, want = np.asarray(main(torch_cases.images(rec))), rec["expected"]["predictions"]
    assert np.abs(got - want).max() <= BOUND * max(1.0, np.abs(want).max())


def test_vgg11_bn_body_gives_torchvisions_features():
    # The body only (include_top=False): the fixture's classifier keys are not drawn.
    rec = torch_cases.record("vgg11_bn_features")
    model = torch_cases.kcnn_model(rec)
    keys = [k for k in rec["keys"] if k[0].startswith("features.")]
    report = load_torchvision(model, seeded_state(keys, rec["seed"]))
    assert report.complete
    assert torch_cases.worst_differences(model, rec)["features"] <= BOUND


# --- strictness ---------------------------------------------------------------------------

def test_another_architectures_state_dict_is_refused_listing_names_and_shapes(resnet18):
    model = resnet18[2]
    before = _weights(model)
    with pytest.raises(WeightsMismatchError) as e:
        load_torchvision(model, _shapes_only("resnet50"), source="resnet50.pth")
    message = str(e.value)
    assert isinstance(e.value, ValueError)
    assert "resnet50.pth do not fit this 'resnet18' model; nothing was loaded" in message
    assert ("layer1.0.conv1.weight: (64, 64, 1, 1) in the file, (64, 64, 3, 3) expected "
            "for stage1_block1/conv1/conv/kernel") in message
    assert re.search(r"source tensors not used \(\d+\):\n  layer1\.0\.conv3\.weight", message)
    report = e.value.report
    assert ("layer1.0.bn3.running_var" in report.unexpected
            and "layer1.0.bn3.num_batches_tracked" in report.unexpected)
    assert ("fc.weight", (1000, 2048), "predictions/kernel", (1000, 512)) in report.mismatched
    _assert_unchanged(before, model)


def test_missing_and_extra_tensors_are_listed_and_nothing_is_loaded(resnet18):
    model = resnet18[2]
    before = _weights(model)
    state = {k: -v for k, v in resnet18[1].items()}   # would change every weight
    del state["layer4.1.bn2.running_var"]
    state["extra.weight"] = np.zeros(3, "float32")
    with pytest.raises(ValueError, match=r"(?s)kcnn weights with no source tensor \(1\):\n"
                       r"  stage4_block2/conv2/bn/moving_variance \(expected "
                       r"'layer4\.1\.bn2\.running_var'\).*not used \(1\):\n  extra\.weight"):
        load_torchvision(model, state)
    _assert_unchanged(before, model)


def test_strict_false_loads_the_body_and_reports_a_fresh_head(resnet18):
    state = resnet18[1]
    model = kcnn.models.resnet18(input_shape=(64, 64, 3), num_classes=10)
    head = _weights(model.get_layer("predictions"))
    report = load_torchvision(model, state, strict=False)
    assert {m[0] for m in report.mismatched} == {"fc.weight", "fc.bias"}
    assert report.not_loaded == ["predictions/kernel", "predictions/bias"]
    assert len(report.loaded) == len(model.weights) - 2 and not report.unexpected
    _assert_unchanged(head, model.get_layer("predictions"))
    kernel = model.get_layer("stage3_block2").residual[1].conv.kernel
    np.testing.assert_array_equal(np.asarray(kernel),
                                  state["layer3.1.conv2.weight"].transpose(2, 3, 1, 0))
    with pytest.raises(ValueError, match="no tensor fits this"):
        load_torchvision(model, _shapes_only("vgg11_bn_features"), strict=False)


def test_weights_that_need_another_form_are_refused():
    paper_bn = kcnn.models.googlenet(input_shape=(64, 64, 3), batch_norm=True,
                                     branch3_kernel_size=3)   # same shapes, other outputs
    with pytest.raises(ValueError, match=r"not torchvision's GoogLeNet.*form='torchvision'"):
        load_torchvision(paper_bn, _shapes_only("googlenet"))
    with pytest.raises(ValueError, match="not one of the architectures torchvision"):
        load_torchvision(kcnn.models.resnet20(), {})


# --- GoogLeNet's torchvision form --------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"form": "torchvision", "branch3_kernel_size": 5}, "form='torchvision' has "
                                                         "branch3_kernel_size=3"),
    ({"form": "torchvision", "batch_norm": False}, "form='torchvision' has batch_norm=True"),
    ({"transform_input": True}, "transform_input=True.*needs form='torchvision'"),
    ({"form": "caffe"}, "`form` must be one of None, 'paper', 'torchvision'"),
])
def test_googlenet_contradicting_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kcnn.models.googlenet(**kwargs)


def test_torchvision_form_layers_save_and_load_safely(tmp_path):
    # The layers the torchvision form adds: transform_input's ChannelAffine, the aux
    # head's adaptive pool and BatchNorm epsilon.
    inputs = keras.Input((6, 6, 3))
    x = kcnn.layers.ChannelAffine([0.458, 0.448, 0.45], [-0.03, -0.088, -0.188])(inputs)
    x = kcnn.layers.AuxiliaryClassifier(5, batch_norm=True, adaptive_pool=4,
                                        bn_epsilon=1e-3)(x)
    model = keras.Model(inputs, x)
    images = seeded_images((6, 6, 3))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(np.asarray(loaded(images)), np.asarray(model(images)),
                               atol=1e-6)
    assert loaded.layers[2].conv.bn.epsilon == 1e-3


# --- keras.applications -------------------------------------------------------------------

def _keras_app_weights(app, legacy):
    """A keras.applications model's weights under the names of its weight files."""
    weights = {}
    for layer in app.layers:
        for w in layer.weights:
            role = w.path.split("/")[-1]
            name = (f"{layer.name}_{'W' if role == 'kernel' else 'b'}_1:0" if legacy
                    else f"{role}:0")
            weights[f"{layer.name}/{name}"] = np.asarray(w)
    return weights


@pytest.fixture(scope="module")
def keras_vgg16():
    """keras.applications' VGG16 with seeded weights and a kcnn vgg16, both with top."""
    # 64×64: the 2×2 map before the flatten checks that both flatten (H, W, C).
    shape = (64, 64, 3)
    app = keras.applications.VGG16(weights=None, input_shape=shape, classes=10,
                                   classifier_activation=None)
    state = seeded_state([(w.path, w.shape) for w in app.weights], layout="keras")
    app.set_weights([state[w.path] for w in app.weights])
    return app, kcnn.models.vgg16(input_shape=shape, num_classes=10)


@pytest.mark.slow
def test_keras_applications_vgg16_gives_its_outputs(keras_vgg16):
    app, model = keras_vgg16
    # The legacy .h5 files' names ("fc1/fc1_W_1:0"), then Keras 3's ("fc1/kernel:0").
    for legacy in (True, False):
        assert load_keras(model, _keras_app_weights(app, legacy=legacy)).complete
    x = seeded_images(tuple(app.input_shape[1:]))
    want, got = np.asarray(app(x)), np.asarray(model(x, training=False))
    assert got.shape == want.shape == (2, 10)
    assert np.abs(got - want).max() <= BOUND * max(1.0, np.abs(want).max())


def test_keras_notop_weights_into_a_model_with_top_are_refused(keras_vgg16, resnet18):
    app, model = keras_vgg16
    notop = {k: v for k, v in _keras_app_weights(app, legacy=True).items()
             if k.startswith("block")}
    before = _weights(model)
    with pytest.raises(ValueError, match=r"(?s)no source tensor \(6\):\n  fc1/kernel "
                       r"\(expected 'fc1/kernel'\)"):
        load_keras(model, {k: -v for k, v in notop.items()},
                   source="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
    _assert_unchanged(before, model)
    with pytest.raises(ValueError, match="not a kcnn vgg16 or vgg19 without BatchNorm"):
        load_keras(resnet18[2], notop)
