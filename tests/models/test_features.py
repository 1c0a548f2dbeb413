"""feature_extractor: stage maps and feature_info against real shapes, kcnn.analysis and hand
arithmetic; builders for any input size."""

import pathlib
import re

import keras
import numpy as np
import pytest

import kcnn
from conftest import assert_keras_roundtrip, random_images
from kcnn.analysis import summarize

# Models registered without feature stages, on purpose (feature_extractor says why).
NO_STAGES = {"fcn32s"}

# Per family (and layout): channels, smallest size, and per stage (channels, stride, receptive
# field), by hand. A window K/s adds (K − 1)·jump to the field and multiplies the jump by s;
# 1×1 convolutions, LRN, BN and ReLU add nothing; branches and shortcuts: the widest path.
HAND = {
    # c1 5×5: 5 | s2 2/2: 6, jump 2 | c3 5×5: 6 + 4·2 = 14 | s4 2/2: 14 + 2 = 16, jump 4.
    "lenet5": (1, 16, [(6, 1, 5), (6, 2, 6), (16, 2, 14), (16, 4, 16)]),
    # conv1 11/4: 11, jump 4 | pool1 3/2: 11 + 2·4 = 19, jump 8 | conv2 5×5: 19 + 4·8 = 51 |
    # pool2: 51 + 16 = 67, jump 16 | conv3–5 3×3: 67 + 3·32 = 163 | pool5: 163 + 32 = 195, 32.
    "alexnet": (3, 63, [(64, 4, 11), (192, 8, 51), (256, 16, 163), (256, 32, 195)]),
    "alexnet_paper": (3, 67, [(96, 4, 11), (256, 8, 51), (256, 16, 163), (256, 32, 195)]),
    # Per block, 3×3 convs add 2·jump each, the 2×2/2 pool 1·jump: block1 3 → 4 (jump 2) |
    # block2 4 + 4 = 8 → 10 (4) | block3 10 + 8 + 8 = 26 → 30 (8) | block4 30 + 32 = 62 → 70
    # (16) | block5 70 + 64 = 134 → 150 (32).
    "vgg11": (3, 32, [(64, 2, 4), (128, 4, 10), (256, 8, 30), (512, 16, 70), (512, 32, 150)]),
    # mlpconv1 5×5: 5 | pool1 3/2: 7, jump 2 | mlpconv2 5×5: 7 + 8 = 15 | pool2: 15 + 4 = 19, 4.
    "nin": (3, 8, [(96, 1, 5), (192, 2, 15), (192, 4, 19)]),
    # mlpconv1 11/4: 11 | pool1: 19, jump 8 | mlpconv2 5×5: 19 + 32 = 51 | pool2: 67, 16 |
    # mlpconv3 3×3: 67 + 32 = 99 | pool3: 99 + 32 = 131, 32.
    "nin_imagenet": (3, 67, [(96, 4, 11), (256, 8, 51), (384, 16, 99), (384, 32, 131)]),
    # conv1 7/2: 7 | pool1 3/2: 11, jump 4 | conv2 3×3: 19 | pool2: 27, 8 | 3a, 3b: the 5×5
    # branch adds 4·8 each: 91 | pool: 107, 16 | 4a–4e: + 5·64 = 427 | pool: 459, 32 |
    # 5a, 5b: + 2·128 = 715.
    "googlenet": (3, 32, [(64, 2, 7), (192, 4, 19), (480, 8, 91), (832, 16, 427),
                          (1024, 32, 715)]),
    # stem 7/2: 7 | pool 3/2: 11, jump 4 | stage1: 4 convs 3×3 add 8 each: 43 | stage2: the
    # strided conv adds 2·4, then 3 convs 2·8: 43 + 8 + 48 = 99, 8 | stage3: 99 + 16 + 96 =
    # 211, 16 | stage4: 211 + 32 + 192 = 435, 32.
    "resnet18": (3, 32, [(64, 2, 7), (64, 4, 43), (128, 8, 99), (256, 16, 211),
                         (512, 32, 435)]),
    # stem 3×3: 3 | stage1: 6 convs 3×3: 3 + 12 = 15 | stage2: 15 + 2 + 5·4 = 37, jump 2 |
    # stage3: 37 + 4 + 5·8 = 81, jump 4. The plain twin has the same convolutions.
    "resnet20": (3, 8, [(16, 1, 3), (16, 1, 15), (32, 2, 37), (64, 4, 81)]),
    "plain20": (3, 8, [(16, 1, 3), (16, 1, 15), (32, 2, 37), (64, 4, 81)]),
}


def rows_by_name(summary):
    return {row["name"]: row for row in summary}


def test_every_registered_model_has_feature_stages():
    names = kcnn.models.list_models()
    missing = []
    for name in names:
        try:
            stages = kcnn.models.feature_stages(name)
        except ValueError:
            missing.append(name)
            continue
        assert bool(stages) == (name not in NO_STAGES), name
    assert not missing, f"register the feature stages of: {missing}"
    assert set(HAND) <= set(names)  # one model per family and layout, checked below
    with pytest.raises(ValueError, match=r"fcn32s has no feature stages: .*backbone"):
        kcnn.models.feature_extractor("fcn32s")


@pytest.mark.parametrize("name", sorted(HAND))
def test_feature_info_matches_real_shapes_analysis_and_hand_arithmetic(name):
    channels, size, hand = HAND[name]
    # By name, for any size: include_top=False, height and width None.
    features = kcnn.models.feature_extractor(name, input_shape=(None, None, channels))
    info = features.feature_info
    assert features.input_shape == (None, None, None, channels)
    assert [(s.channels, s.stride, s.receptive_field) for s in info] == [
        (c, (s, s), (rf, rf)) for c, s, rf in hand]
    # The real maps: one image of size × (size + 32); 32 pixels more give 32 / stride more
    # units in any layer of stride ≤ 32 (floor and ceil arithmetic alike).
    maps = features(random_images((size, size + 32, channels), batch=1))
    maps = maps if isinstance(maps, list) else [maps]
    assert len(maps) == len(info)
    for stage, out in zip(info, maps):
        _, rows, cols, got_channels = out.shape
        assert got_channels == stage.channels, stage.name
        assert cols - rows == 32 // stage.stride[0], stage.name
    # kcnn.analysis on the whole model (dense head included) at one size, and the extractor
    # of that built model: the same fields; the start, known at a known size, too.
    model = kcnn.models.get_model(name, input_shape=(size, size + 32, channels), num_classes=3)
    rows = rows_by_name(summarize(model))
    sized = kcnn.models.feature_extractor(model).feature_info
    for any_size, stage in zip(info, sized):
        row = rows[stage.layer]
        assert (stage.receptive_field, stage.stride, stage.start) == (
            row["receptive_field"], row["jump"], row["start"]), stage.name
        assert (any_size.name, any_size.receptive_field, any_size.stride) == (
            stage.name, stage.receptive_field, stage.stride)
        assert any_size.start in (stage.start, (None, None)), stage.name
        assert None not in stage.start


@pytest.fixture(scope="module")
def resnet50_any_size():
    return kcnn.models.resnet50(include_top=False, input_shape=(None, None, 3))


def test_resnet50_any_size_on_a_160x200_image(resnet50_any_size):
    model = resnet50_any_size
    image = random_images((160, 200, 3), batch=1)
    # stem 7×7/2 pad 3: (160 + 6 − 7) // 2 + 1 = 80, (200 − 1) // 2 + 1 = 100; pool 3×3/2
    # pad 1: 40, 50; each later stage's 3×3/2 pad 1: ⌊(n − 1) / 2⌋ + 1: 20, 25 → 10, 13 → 5, 7.
    assert tuple(model(image).shape) == (1, 5, 7, 2048)
    features = kcnn.models.feature_extractor(model)   # the built model: by its name
    shapes = [tuple(m.shape) for m in features(image)]
    assert shapes == [(1, 80, 100, 64), (1, 40, 50, 256), (1, 20, 25, 512),
                      (1, 10, 13, 1024), (1, 5, 7, 2048)]
    # Bottlenecks: only the 3×3 widens the field. stem 7, jump 2 | pool 11, jump 4 |
    # stage1: 3 × 2·4 → 35 | stage2: 35 + 2·4 + 3 × 2·8 = 91, jump 8 | stage3: 91 + 2·8 +
    # 5 × 2·16 = 267, jump 16 | stage4: 267 + 2·16 + 2 × 2·32 = 427, jump 32. Explicit,
    # symmetric padding everywhere: every first unit is centred on pixel 0.
    assert [(s.name, s.channels, s.stride[0], s.receptive_field[0], s.start)
            for s in features.feature_info] == [
        ("stem", 64, 2, 7, (0, 0)), ("stage1", 256, 4, 35, (0, 0)),
        ("stage2", 512, 8, 91, (0, 0)), ("stage3", 1024, 16, 267, (0, 0)),
        ("stage4", 2048, 32, 427, (0, 0))]


DOC_ROW = re.compile(r"^\| (\w+) \| `(\w+)` \| (\d+)×(\d+)×([\d,]+) \| (\d+) \| (\d+) \| "
                     r"([\d.]+) \|$", re.M)


def test_the_feature_table_of_the_docs(resnet50_any_size):
    # docs/architectures.md's 224×224 table: analysed at that size from models for any size.
    text = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "architectures.md").read_text()
    documented = {}
    for model, stage, rows, cols, channels, stride, field, start in DOC_ROW.findall(text):
        documented.setdefault(model, []).append(
            (stage, (None, int(rows), int(cols), int(channels.replace(",", ""))),
             (int(stride),) * 2, (int(field),) * 2, (float(start),) * 2))
    assert set(documented) == {"resnet50", "vgg16", "googlenet"}
    for model, expected in documented.items():
        features = kcnn.models.feature_extractor(
            resnet50_any_size if model == "resnet50" else
            kcnn.models.get_model(model, include_top=False, input_shape=(None, None, 3)))
        rows = rows_by_name(summarize(features, input_shape=(224, 224, 3)))
        got = [(s.name, rows[s.layer]["output_shape"], rows[s.layer]["jump"],
                rows[s.layer]["receptive_field"], rows[s.layer]["start"])
               for s in features.feature_info]
        assert got == expected, model


def test_extractor_shares_the_weights_of_a_built_model():
    model = kcnn.models.resnet20(input_shape=(16, 16, 3))
    features = kcnn.models.feature_extractor(model, stages=["stage3", "stem"])
    assert features.feature_info.names() == ["stage3", "stem"]   # in the order asked
    assert features.get_layer("stem_conv") is model.get_layer("stem_conv")
    x = random_images((16, 16, 3), batch=2)
    before = [keras.ops.convert_to_numpy(m) for m in features(x)]
    kernel = model.get_layer("stem_conv").conv.kernel
    kernel.assign(kernel * 2.0)
    after = [keras.ops.convert_to_numpy(m) for m in features(x)]
    assert not np.allclose(before[0], after[0]) and not np.allclose(before[1], after[1])
    # And equals the changed original's own map.
    stem = keras.Model(model.inputs[0], model.get_layer("stem_conv").output)
    np.testing.assert_allclose(after[1], keras.ops.convert_to_numpy(stem(x)), atol=1e-6)


def test_stages_are_validated():
    model = kcnn.models.resnet20(input_shape=(16, 16, 3))
    single = kcnn.models.feature_extractor(model, stages=-1)
    assert single.feature_info.names() == ["stage3"] and len(single.outputs) == 1
    valid = r"valid stages of resnet20: 0 to 3 or 'stem', 'stage1', 'stage2', 'stage3'"
    for bad, shown in (("stage4", "'stage4'"), (4, "4"), (-5, "-5"), (True, "True"),
                       (1.0, "1.0")):
        with pytest.raises(ValueError, match=rf"unknown stage {shown} in stages=.*{valid}"):
            kcnn.models.feature_extractor(model, stages=[0, bad])
    with pytest.raises(ValueError, match=r"stage 'stage1' is selected twice"):
        kcnn.models.feature_extractor(model, stages=["stage1", 1])
    with pytest.raises(ValueError, match=r"`stages` must be None, a stage or a non-empty"):
        kcnn.models.feature_extractor(model, stages=[])
    with pytest.raises(ValueError, match=r"`include_top` cannot be given"):
        kcnn.models.feature_extractor("resnet20", include_top=True)
    with pytest.raises(ValueError, match=r"builder arguments \(input_shape\) are for a model"):
        kcnn.models.feature_extractor(model, input_shape=(8, 8, 3))
    with pytest.raises(ValueError, match=r"unknown name='resnet5'\. Did you mean .*'resnet50'"):
        kcnn.models.feature_extractor("resnet5")
    with pytest.raises(TypeError, match=r"keras.Model or a registered name"):
        kcnn.models.feature_extractor(3)


def test_a_renamed_model_needs_its_architecture():
    model = kcnn.models.resnet20(input_shape=(16, 16, 3), name="my_net")
    with pytest.raises(ValueError, match=r"'my_net' is not named as a registered model.*"
                                         r"architecture="):
        kcnn.models.feature_extractor(model)
    features = kcnn.models.feature_extractor(model, architecture="resnet20")
    assert features.name == "my_net_features" and len(features.outputs) == 4
    with pytest.raises(ValueError, match=r"has no layer 'stem_conv' \(stage 'stem' of "
                                         r"resnet20\); was it built by kcnn.models.resnet20"):
        kcnn.models.feature_extractor(kcnn.models.lenet5(), architecture="resnet20")


def test_fully_convolutional_builders_take_any_size_with_their_head():
    for name in ("nin", "resnet20", "plain20"):   # global average pooling heads
        model = kcnn.models.get_model(name, input_shape=(None, None, 3))
        for shape in ((16, 16), (24, 20)):
            assert tuple(model(random_images((*shape, 3), batch=1)).shape) == (1, 10), name


def test_fixed_size_heads_refuse_an_unknown_size():
    for call, why in (
        (lambda: kcnn.models.vgg11(input_shape=(None, None, 3)), "the dense head"),
        (lambda: kcnn.models.alexnet(input_shape=(None, 224, 3)), "the dense head"),
        (lambda: kcnn.models.alexnet_paper(input_shape=(227, None, 3)), "the dense head"),
        (lambda: kcnn.models.lenet5(input_shape=(None, None, 1)), "the dense head"),
        (lambda: kcnn.models.googlenet(input_shape=(None, None, 3), aux_logits=True),
         "the auxiliary heads"),
        (lambda: kcnn.models.fcn32s(input_shape=(None, None, 3)), "its padding and crop"),
    ):
        with pytest.raises(ValueError, match=rf"`input_shape`=.*None.* leaves the height or "
                                             rf"width unknown, but {why}"):
            call()
    with pytest.raises(TypeError, match=r"`input_shape` must be a tuple of 3 ints"):
        kcnn.models.resnet20(input_shape=(None, None, None))   # channels must be known


def test_any_size_extractor_keras_roundtrip(tmp_path):
    features = kcnn.models.feature_extractor("resnet20", input_shape=(None, None, 3))
    assert_keras_roundtrip(features, random_images((12, 20, 3), batch=2),
                           tmp_path / "features.keras")
    loaded = keras.saving.load_model(tmp_path / "features.keras", safe_mode=True)
    x = random_images((9, 7, 3), batch=1, seed=4)   # another size, odd
    for e, g in zip(features(x), loaded(x)):
        assert tuple(g.shape) == tuple(e.shape)
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), atol=1e-6)
