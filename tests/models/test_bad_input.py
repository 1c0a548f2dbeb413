"""Bad arguments raise TypeError (wrong type) or ValueError (out of range) naming the argument,
the value and what is allowed, before the builder makes any layer; sizes past the documented
limits of kcnn/models/_common.py are refused before anything is allocated."""

import inspect
import re

import keras
import numpy as np
import pytest

import kcnn
from kcnn.models._common import MAX_NUM_CLASSES, POOLING_CHOICES
from model_cases import input_shape, output_shape, small_size

NAMES = kcnn.models.list_models()
BUILDERS = {n: kcnn.models.load_builder(n) for n in NAMES}
# Models with auxiliary heads, whose minimum is larger with `aux_logits=True`.
AUX = [n for n in NAMES if kcnn.models.model_info(n).min_input_size_aux is not None]


def _check_minimum(name, size, build=True, **kwargs):
    """Builds at `size`×`size` (unless `build` is False: the sweep builds it at that size);
    refuses one pixel less in either axis, naming `size`."""
    shape = input_shape(name, size)
    if build:
        model = kcnn.models.get_model(name, input_shape=shape, num_classes=3, **kwargs)
        outputs = model.outputs
        assert ([tuple(o.shape[1:]) for o in outputs]
                == [output_shape(name, size, 3)] * len(outputs))
    message = re.escape(f"the minimum height and width for this architecture is {size}")
    for smaller in ((size - 1, size, shape[2]), (size, size - 1, shape[2])):
        with pytest.raises(ValueError, match=message):
            kcnn.models.get_model(name, input_shape=smaller, num_classes=3, **kwargs)


@pytest.mark.parametrize("name", NAMES)
def test_minimum_input_builds_and_one_less_is_refused(name):
    size = kcnn.models.model_info(name).min_input_size
    # Where the minimum is the sweep's size, tests/models/test_sweep.py builds the model there
    # and checks its output shapes; building it again here would cost seconds and check nothing
    # more. The smaller CIFAR-style minimums (4×4) are built here.
    _check_minimum(name, size, build=small_size(name) != size)


@pytest.mark.parametrize("name", AUX)
def test_minimum_with_auxiliary_heads(name):
    assert AUX == ["googlenet"]  # the records agree with the builders' `aux_logits`
    # Built at this size with its auxiliary heads by the sweep (its googlenet_aux case).
    _check_minimum(name, kcnn.models.model_info(name).min_input_size_aux, build=False,
                   aux_logits=True)


# --- The fuzz table: every builder × every argument × bad values ---------------------------
# Derived from the builders' signatures: each argument gets the wrong types for its default's
# type, None (unless its default is None), an object of no meaning, and the out-of-range values
# below. An argument of a new builder that is neither a bool nor listed here fails
# `test_every_argument_is_in_the_table`, so none can be missed.
WRONG_TYPES = {
    bool: ["no", "False", 0, 1, 1.0],
    int: [True, 2.5, "3"],
    float: ["0.5", True, [0.5]],
    str: [3, True, b"bytes", ["text"]],
}
OUT_OF_RANGE = {
    "input_shape": [(32, 32), (1, 32, 32, 3), (), "32,32,3", 32, {32: 3},
                    (32.0, 32, 3), (32, 32.0, 3), (32, 32, 3.0), (32, "32", 3), (True, 32, 3),
                    (32, 32, None), (32, 32, 0), (32, 32, -3), (0, 32, 3), (32, -32, 3),
                    (65536, 65536, 3), (65536, 65536, 1), (256, 256, 10**9)],
    "num_classes": [0, -1, 10**7, 10**100],
    "pooling": ["mean", "AVG", "", False, 1],
    "classifier_activation": ["softmaxx", "", "Softmax", 3, True, {"class_name": "softmax"}],
    "activation": ["tanhh", "", 0],
    "dropout": [-0.1, 1.0, 1.5, float("nan"), float("inf")],
    "subsampling": ["min", "AVG", ""],
    "branch3_kernel_size": [4, 7, 1, 0, -3, 3.0, "3", True],
    # googlenet's batch_norm defaults to None (its `form`'s); a bool elsewhere.
    "batch_norm": ["no", "False", 0, 1, 1.0],
    "form": ["Paper", "torch", "", 0, True],
    "shortcut": ["option_a", "Projection", "", True],
    "backbone": ["vgg17", "resnet50", "VGG16", ""],
    "name": ["", "a/b"],
    "weights": ["imagenet", "torchvison", "", "torchvision:V9", "/no/such/weights.pth",
                b"torchvision", 1, ["torchvision"]],
    # googlenet's: None is its form's default.
    "transform_input": ["no", "True", 0, 1, 1.0],
}
# "weights" is an argument of the builders with published weights only.
UNKNOWN_KEYWORDS = ["foo", "num_class", "inputshape", "weights", "Name"]


def bad_cases(name):
    """(argument, bad value) pairs for one builder, from its signature and the tables above."""
    cases = []
    for arg, param in inspect.signature(BUILDERS[name]).parameters.items():
        default = param.default
        values = [*OUT_OF_RANGE.get(arg, ()), *WRONG_TYPES.get(type(default), ()), object()]
        if default is not None:
            values.append(None)
        if type(default) is int:
            values.append(float(default))
        cases += [(arg, v) for v in values]
    return cases


class _Built(BaseException):
    """Raised by any layer's constructor while the fuzz runs: the arguments got through."""


@pytest.fixture
def no_layers(monkeypatch):
    """Any layer construction (keras.Input included) raises `_Built`."""
    def refuse(self, *args, **kwargs):
        raise _Built(type(self).__name__)
    monkeypatch.setattr(keras.layers.Layer, "__init__", refuse)


def refusal(name, kwargs):
    """The error that building `name` with `kwargs` raises before any layer; None if none."""
    try:
        BUILDERS[name](**kwargs)
    except Exception as e:  # noqa: BLE001 (any other type is a failure, reported below)
        return e
    except _Built:
        return None
    raise AssertionError(f"{name}({kwargs}) returned without building a layer")


def test_every_argument_is_in_the_table():
    for name, builder in BUILDERS.items():
        for arg, param in inspect.signature(builder).parameters.items():
            assert param.kind is inspect.Parameter.KEYWORD_ONLY, (name, arg)
            assert arg in OUT_OF_RANGE or type(param.default) is bool, (
                f"{name}: no bad values for its argument `{arg}`: add them to OUT_OF_RANGE")


@pytest.mark.parametrize("name", NAMES)
def test_fuzz_bad_arguments(name, no_layers):
    failures = []
    for arg, value in bad_cases(name):
        error = refusal(name, {arg: value})
        if error is None:
            failures.append(f"{arg}={value!r}: accepted")
        elif (not isinstance(error, (ValueError, TypeError)) or f"`{arg}`" not in str(error)
              or not str(error).startswith(f"{name}: ")):
            failures.append(f"{arg}={value!r}: {type(error).__name__}: {error}")
    for arg in UNKNOWN_KEYWORDS:
        if arg in inspect.signature(BUILDERS[name]).parameters:
            continue
        error = refusal(name, {arg: 1})
        if not isinstance(error, TypeError) or f"'{arg}'" not in str(error):
            failures.append(f"unknown keyword {arg}: {error!r}")
    assert not failures, "\n".join(failures)


# Values the checks must let through (the build then starts: `_Built`).
VALID = {
    "num_classes": [1, 21841, np.int64(5), MAX_NUM_CLASSES],  # 21841: ImageNet-21k
    "classifier_activation": [None, "softmax", keras.activations.sigmoid],
    "dropout": [0, 0.0, np.float32(0.25)],
    "name": ["x", "my model-1"],
}


@pytest.mark.parametrize("name", NAMES)
def test_valid_arguments_get_through(name, no_layers):
    params = inspect.signature(BUILDERS[name]).parameters
    shape = params["input_shape"].default
    cases = [{}, {"input_shape": list(shape)}, {"input_shape": tuple(map(np.int64, shape))}]
    cases += [{arg: v} for arg, values in VALID.items() if arg in params for v in values]
    if "include_top" in params:
        cases += [{"include_top": False, "pooling": p} for p in POOLING_CHOICES]
    for kwargs in cases:
        if name == "fcn32s" and kwargs.get("num_classes", 0) > 1024:
            continue  # its upsampler's limit (test_fcn_upsampler_limit)
        assert refusal(name, kwargs) is None, kwargs


def test_include_top_must_be_a_bool(no_layers):
    for name in NAMES:
        if "include_top" in inspect.signature(BUILDERS[name]).parameters:
            error = refusal(name, {"include_top": "no"})
            assert isinstance(error, TypeError), (name, error)
            assert str(error) == (f"{name}: `include_top` must be True or False; got "
                                  "include_top='no' (a str)."), str(error)


def test_sizes_over_the_limits_are_refused_before_building(no_layers):
    # Before: lenet5 with 10**7 classes allocated 3.4 GB for its head, vgg16 164 GB.
    for name in ("lenet5", "vgg16", "resnet50"):
        error = refusal(name, {"num_classes": 10**7})
        assert isinstance(error, ValueError) and str(error) == (
            f"{name}: `num_classes` must be an int >= 1 and at most 1,000,000; got "
            "num_classes=10000000."), str(error)
    error = refusal("resnet20", {"input_shape": (65536, 65536, 3)})
    assert isinstance(error, ValueError) and re.search(
        r"holds 12,884,901,888 values per image, over the limit of 1,073,741,824 \(2\*\*30",
        str(error)), str(error)
    # The limits themselves, and what is far above ordinary use, get through.
    assert refusal("resnet50", {"input_shape": (512, 512, 3), "num_classes": 21841}) is None
    assert refusal("resnet20", {"input_shape": (16384, 16384, 4)}) is None  # 2**30 values
    assert refusal("resnet20", {"input_shape": (16384, 16385, 4)}) is not None
    assert refusal("resnet20", {"input_shape": (None, None, 3)}) is None


def test_fcn_upsampler_limit(no_layers):
    # The upsampler's kernel is 64×64×classes×classes: 1024 classes are 2**32 weights.
    error = refusal("fcn32s", {"num_classes": 1025})
    assert isinstance(error, ValueError) and re.fullmatch(
        r"fcn32s: with `num_classes`=1025 its layer 'upscore' would hold 4,303,360,000 "
        r"weights \(64 × 64 × 1,025 × 1,025\), over the limit of 4,294,967,296 \(2\*\*32, "
        r"16 GiB of float32\) for one layer\.", str(error)), str(error)
    assert refusal("fcn32s", {"num_classes": 1024}) is None


def test_dense_head_over_the_layer_limit_is_refused_before_it_is_made():
    # Before: 16 × 2045² flattened features × 120 weights in f5: 32 GB, allocated at once.
    with pytest.raises(ValueError, match=(
            r"lenet5: with `input_shape`=\(8192, 8192, 1\) its layer 'f5' would hold "
            r"8,029,488,000 weights \(66,912,400 × 120\).* The dense head grows with the input "
            r"size: give a smaller input_shape, or include_top=False \(any size\)\.")):
        kcnn.models.lenet5(input_shape=(8192, 8192, 1))
    features = kcnn.models.lenet5(input_shape=(8192, 8192, 1), include_top=False)
    assert features.output_shape == (None, 2045, 2045, 16)


def test_classifier_limit():
    # No model here reaches it (VGG's 4096 features × 1,000,000 classes are 4.1e9); a wider
    # one would be refused before its last layer is made.
    from kcnn.models import _common
    with pytest.raises(ValueError, match=r"m: with `num_classes`=1000000 its layer "
                                         r"'predictions' would hold 8,192,000,000 weights"):
        _common.classifier("m", keras.Input((8192,)), 1_000_000, None)
    wide = kcnn.models.resnet20(input_shape=(8, 8, 3), num_classes=21841)
    assert wide.output_shape == (None, 21841)


def test_cross_argument_checks():
    with pytest.raises(ValueError, match=r"googlenet: `aux_logits=True` needs `include_top=True`"):
        kcnn.models.googlenet(aux_logits=True, include_top=False)
    with pytest.raises(ValueError, match=r"`input_shape`=\(None, None, 1\) leaves the height"):
        kcnn.models.lenet5(input_shape=(None, None, 1))


def test_unknown_model_name_suggests_close_names():
    with pytest.raises(ValueError, match=r"Unknown model name='resnet5'\. Did you mean .*'resnet50'"):
        kcnn.models.get_model("resnet5")
    with pytest.raises(ValueError, match=r"Unknown model name='googlenett'\. Did you mean 'googlenet'"):
        kcnn.models.get_model("googlenett")


def test_list_models_patterns():
    assert kcnn.models.list_models("vgg1?") == ["vgg11", "vgg13", "vgg16", "vgg19"]
    assert kcnn.models.list_models("plain*") == ["plain20", "plain32", "plain44", "plain56",
                                                "plain110"]
    assert kcnn.models.list_models("nothing*") == []
    with pytest.raises(ValueError, match="`pattern` must be a string"):
        kcnn.models.list_models(3)
