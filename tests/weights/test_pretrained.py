"""The builders' `weights=`: a file made here (torchvision's resnet18 fixture, seeded; a
keras.applications VGG16 with seeded weights) through `weights=path` and through
`weights="torchvision"` from a catalogue record pointed at a file:// URL; torchvision's
outputs come from the fixture, keras.applications' from keras.applications itself."""

import re
import warnings

import h5py
import keras
import numpy as np
import pytest
from safetensors.numpy import save_file

import kcnn
from weights import torch_cases
from weights.local_catalogue import local_records
from weights.pth_writer import tensor, write_pth
from weights.seeded import seeded_images, seeded_state
from kcnn.weights import WeightsFileError, WeightsMismatchError, catalogue
from kcnn.weights import pretrained

BOUND = 1e-4
SHAPE = (64, 64, 3)  # the resnet18 fixture's input


@pytest.fixture(scope="module")
def resnet18_files(tmp_path_factory):
    """The resnet18 fixture's record and its seeded state as .safetensors and .pth."""
    rec = torch_cases.record("resnet18")
    state = torch_cases.state(rec)
    folder = tmp_path_factory.mktemp("resnet18")
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()},
              str(folder / "resnet18.safetensors"))
    write_pth(folder / "resnet18.pth", {k: tensor(v) for k, v in state.items()})
    return rec, folder / "resnet18.safetensors", folder / "resnet18.pth"


@pytest.fixture(scope="module")
def loaded(resnet18_files):
    """kcnn's resnet18 built with `weights=` the .safetensors file's path."""
    return kcnn.models.resnet18(input_shape=SHAPE, weights=str(resnet18_files[1]))


def _worst(model, rec):
    return torch_cases.worst_differences(model, rec)["predictions"]


def test_weights_path_gives_torchvisions_outputs(resnet18_files, loaded):
    assert _worst(loaded, resnet18_files[0]) <= BOUND


def test_weights_torchvision_downloads_the_catalogued_file(resnet18_files, tmp_path,
                                                           monkeypatch):
    rec, _, pth = resnet18_files
    record, records = local_records("resnet18", pth)
    monkeypatch.setattr(catalogue, "_records", lambda: records)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    model = kcnn.models.get_model("resnet18", input_shape=SHAPE, weights="torchvision")
    assert _worst(model, rec) <= BOUND
    assert (tmp_path / "keras_home" / "models" / record.file_name).read_bytes() == \
        pth.read_bytes()


def test_other_num_classes_loads_the_body_and_a_fresh_head(resnet18_files, loaded):
    _, _, pth = resnet18_files
    with pytest.warns(pretrained.FreshHeadWarning, match=r"resnet18: loaded .*resnet18.pth "
                      r"into the body; the head \(predictions\) is new for num_classes=7") as w:
        fresh = kcnn.models.resnet18(input_shape=SHAPE, num_classes=7, weights=pth)
    assert w[0].filename == __file__  # the warning points at the builder's caller
    body = kcnn.models.resnet18(input_shape=SHAPE, include_top=False, pooling="avg",
                                weights=pth)
    x = seeded_images(SHAPE)
    features = [np.asarray(keras.Model(m.input, m.get_layer("gap").output)(x))
                for m in (loaded, fresh)]
    np.testing.assert_array_equal(features[0], features[1])
    np.testing.assert_allclose(np.asarray(body(x)), features[0], atol=1e-6)
    assert fresh.output.shape[-1] == 7


def test_a_file_of_that_many_classes_fills_the_head(resnet18_files, tmp_path):
    # A 7-class file (one of your own, say a torchvision model fine-tuned): all of it
    # loads, no warning.
    rec, safetensors, _ = resnet18_files
    state = torch_cases.state(rec)
    state["fc.weight"], state["fc.bias"] = state["fc.weight"][:7], state["fc.bias"][:7]
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()},
              str(tmp_path / "seven.safetensors"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", pretrained.FreshHeadWarning)
        model = kcnn.models.resnet18(input_shape=SHAPE, num_classes=7,
                                     weights=tmp_path / "seven.safetensors")
    np.testing.assert_array_equal(np.asarray(model.get_layer("predictions").kernel),
                                  state["fc.weight"].T)


def test_a_file_of_another_architecture_is_refused(resnet18_files):
    # resnet18's tensors are a subset of resnet34's names: the body without its head must
    # still be complete (and a fresh head, `num_classes=7`, is checked the same way).
    _, _, pth = resnet18_files
    with pytest.raises(WeightsMismatchError, match=r"(?s)resnet18.pth do not fit this "
                       r"'resnet34' model.*no source tensor \(80\):\n  stage1_block3/conv1/"
                       r"conv/kernel \(expected 'layer1.2.conv1.weight'\)"):
        kcnn.models.resnet34(input_shape=SHAPE, include_top=False, weights=pth)


def test_bad_weights_arguments_name_themselves(tmp_path):
    not_weights = tmp_path / "notes.txt"
    not_weights.write_text("hello")
    cases = [
        ("resnet18", "torchvison", ValueError, r"neither a weights source nor an existing "
         r"file.*Did you mean 'torchvision'\?"),
        ("resnet18", "imagenet", ValueError, r"'imagenet' is ambiguous here: give the source"),
        ("resnet18", "keras", ValueError, r"`weights`='keras': No keras weights for "
         r"model='resnet18'"),
        ("resnet18", "torchvision:IMAGENET1K_V3", ValueError, r"Unknown tag='IMAGENET1K_V3'"),
        ("vgg16", 16, TypeError, r"`weights` must be None, a weights source"),
        ("googlenet", b"torchvision", TypeError, r"`weights` must be None"),
    ]
    for name, value, error, match in cases:
        with pytest.raises(error, match=f"^{name}: .*" + match):
            kcnn.models.get_model(name, weights=value)
    with pytest.raises(WeightsFileError, match=re.escape(str(not_weights))):
        kcnn.models.resnet18(input_shape=SHAPE, weights=not_weights)
    # A model without published weights: its builder has no `weights` to pass it to.
    from kcnn.predict import load_predictor
    with pytest.raises(ValueError, match=r"^lenet5: no published weights, and its builder "
                       r"takes no `weights` \(kcnn converts .* for alexnet, googlenet, "):
        load_predictor("lenet5", weights=str(not_weights))


def test_contradicting_arguments_are_refused_before_any_download():
    # The catalogue's URLs are not reachable here: these fail before reaching them.
    with pytest.raises(ValueError, match=r"^googlenet: `weights`='torchvision' are for "
                       r"branch3_kernel_size=3 .*got branch3_kernel_size=5"):
        kcnn.models.googlenet(weights="torchvision", branch3_kernel_size=5)
    with pytest.raises(ValueError, match=r"are for form='torchvision'.*got form='paper'"):
        kcnn.models.googlenet(weights="torchvision", form="paper")
    with pytest.raises(ValueError, match=r"are for stride_in_1x1=False.*got "
                       r"stride_in_1x1=True"):
        kcnn.models.resnet50(weights="torchvision", stride_in_1x1=True)


def test_googlenet_weights_build_torchvisions_form(resnet18_files):
    _, safetensors, _ = resnet18_files  # a torchvision-format file (its source decides)
    _, given = pretrained.prepare(
        "googlenet", safetensors, include_top=True,
        arguments=dict(form=None, batch_norm=None, branch3_kernel_size=None,
                       transform_input=None))
    assert given == {"form": "torchvision", "batch_norm": True, "branch3_kernel_size": 3,
                     "transform_input": True}
    # The catalogue's builder arguments are what `weights=` makes.
    for r in kcnn.weights.list_weights():
        assert r.builder_kwargs.items() <= pretrained.required_arguments(
            r.model, r.source).items(), r.key


def _write_keras_h5(path, app):
    """keras.applications' legacy weight-file layout (vgg16_..._notop.h5): a group per
    layer, `weight_names` listing "<layer>_W_1:0" and "<layer>_b_1:0"."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([layer.name.encode() for layer in app.layers])
        for layer in app.layers:
            group = f.create_group(layer.name)
            names = [f"{layer.name}_{'W' if w.path.endswith('kernel') else 'b'}_1:0"
                     for w in layer.weights]
            group.attrs["weight_names"] = np.array([n.encode() for n in names])
            for name, w in zip(names, layer.weights):
                group.create_dataset(name, data=np.asarray(w))


def test_keras_h5_path_gives_keras_applications_outputs(tmp_path):
    shape = (32, 32, 3)
    app = keras.applications.VGG16(weights=None, include_top=False, input_shape=shape)
    state = seeded_state([(w.path, w.shape) for w in app.weights], layout="keras")
    app.set_weights([state[w.path] for w in app.weights])
    _write_keras_h5(tmp_path / "vgg16_notop.h5", app)
    model = kcnn.models.vgg16(input_shape=shape, include_top=False,
                              weights=tmp_path / "vgg16_notop.h5")
    x = seeded_images(shape)
    want, got = np.asarray(app(x)), np.asarray(model(x, training=False))
    assert got.shape == want.shape == (2, 1, 1, 512)
    assert np.abs(got - want).max() <= BOUND * max(1.0, np.abs(want).max())


def test_train_config_weights_fields():
    from kcnn.train import TrainConfig
    from kcnn.train.checkpoint import run_changes
    from kcnn.train.trainer import _resolve_pretrained

    with pytest.raises(ValueError, match="`freeze_body` must be false without `weights`"):
        TrainConfig(freeze_body=True)
    with pytest.raises(ValueError, match="`weights` must be None, a weights source"):
        TrainConfig(weights=3)
    config = TrainConfig(model="resnet50", weights="torchvision", mean=[0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match=r"`mean`=\[0.5, 0.5, 0.5\] but the weights "
                       r"'torchvision' were trained with mean=\[0.485, 0.456, 0.406\]"):
        _resolve_pretrained(config, train_source=None)
    # The weights' contract (resnet50's V2: resize 232), the dataset's class names.
    folder = type("Source", (), {"class_names": ("a", "b")})
    resolved, prep = _resolve_pretrained(config.replace(mean=None), folder)
    assert (resolved.image_size, resolved.mean, prep.resize_size, prep.class_names) == (
        [224, 224], [0.485, 0.456, 0.406], 232, ("a", "b"))
    # A checkpoint written before these fields existed resumes as unchanged.
    old = {k: v for k, v in TrainConfig().to_dict().items()
           if k not in ("weights", "freeze_body")}
    assert run_changes({"config": old}, TrainConfig().to_dict(), None, [], []) == ""
