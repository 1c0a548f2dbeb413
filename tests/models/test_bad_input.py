"""Bad arguments raise ValueError naming the argument, the value and what is allowed."""

import inspect
import re

import pytest

import kcnn
from model_cases import input_shape, output_shape

NAMES = kcnn.models.list_models()
# Models with auxiliary heads, whose minimum is larger with `aux_logits=True`.
AUX = [n for n in NAMES if kcnn.models.model_info(n).min_input_size_aux is not None]


def _check_minimum(name, size, **kwargs):
    """Builds at `size`×`size`; refuses one pixel less in either axis, naming `size`."""
    shape = input_shape(name, size)
    model = kcnn.models.get_model(name, input_shape=shape, num_classes=3, **kwargs)
    outputs = model.outputs
    assert [tuple(o.shape[1:]) for o in outputs] == [output_shape(name, size, 3)] * len(outputs)
    message = re.escape(f"the minimum height and width for this architecture is {size}")
    for smaller in ((size - 1, size, shape[2]), (size, size - 1, shape[2])):
        with pytest.raises(ValueError, match=message):
            kcnn.models.get_model(name, input_shape=smaller, num_classes=3, **kwargs)


@pytest.mark.parametrize("name", NAMES)
def test_minimum_input_builds_and_one_less_is_refused(name):
    _check_minimum(name, kcnn.models.model_info(name).min_input_size)


@pytest.mark.parametrize("name", AUX)
def test_minimum_with_auxiliary_heads(name):
    assert AUX == ["googlenet"]  # the records agree with the builders' `aux_logits`
    _check_minimum(name, kcnn.models.model_info(name).min_input_size_aux, aux_logits=True)


BAD_ARGUMENTS = [
    ({"input_shape": (224, 224)}, r"`input_shape` must be a tuple of 3 ints .*\(224, 224\)"),
    ({"input_shape": (1, 224, 224, 3)}, r"`input_shape` must be a tuple of 3 ints"),
    ({"input_shape": (224.0, 224, 3)}, r"`input_shape` must be a tuple of 3 ints"),
    ({"input_shape": (224, 224, 0)}, r"at least 1 channel"),
    ({"num_classes": 0}, r"`num_classes` must be an int >= 1; got num_classes=0"),
    ({"num_classes": 2.5}, r"`num_classes` must be an int >= 1; got num_classes=2.5"),
    ({"include_top": False, "pooling": "mean"},
     r"`pooling` must be one of None, 'avg', 'max'; got pooling='mean'"),
    ({"classifier_activation": "softmaxx"}, r"unknown `classifier_activation`='softmaxx'"),
]


@pytest.mark.parametrize("kwargs,message", BAD_ARGUMENTS,
                         ids=[f"{'+'.join(k)}{i}" for i, (k, _) in enumerate(BAD_ARGUMENTS)])
def test_bad_arguments(kwargs, message):
    # Every model whose builder takes these arguments (all are refused before building).
    names = [n for n in NAMES
             if set(kwargs) <= set(inspect.signature(kcnn.models.load_builder(n)).parameters)]
    assert len(names) >= len(NAMES) - 1  # only fcn32s lacks `include_top` and `pooling`
    for name in names:
        with pytest.raises(ValueError, match=message) as info:
            kcnn.models.get_model(name, **kwargs)
        assert name in str(info.value), name


@pytest.mark.parametrize("call,message", [
    (lambda: kcnn.models.googlenet(branch3_kernel_size=7), r"`branch3_kernel_size` must be 5"),
    (lambda: kcnn.models.googlenet(aux_logits=True, include_top=False), r"`aux_logits=True`"),
    (lambda: kcnn.models.vgg16(dropout=1.0), r"`dropout` must be a float in \[0, 1\)"),
    (lambda: kcnn.models.lenet5(subsampling="min"), r"`subsampling` must be one of 'avg', 'max'"),
    (lambda: kcnn.models.resnet20(shortcut="option_a"), r"`shortcut` must be one of"),
])
def test_family_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


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
