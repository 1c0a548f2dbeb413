"""Bad arguments raise ValueError naming the argument, the value and what is allowed."""

import re

import pytest

import kcnn

# name: smallest valid height/width at the default other arguments (from each family's
# conv arithmetic; see the _MIN_SIZE comments in kcnn/models).
MINIMUM = {
    "lenet5": 16, "alexnet": 63, "alexnet_paper": 67, "nin": 4, "nin_imagenet": 67,
    "googlenet": 32, **{f"vgg{d}{bn}": 32 for d in (11, 13, 16, 19) for bn in ("", "_bn")},
    **{f"resnet{d}": 32 for d in (18, 34, 50, 101, 152)},
    **{f"{k}{d}": 4 for k in ("resnet", "plain") for d in (20, 32, 44, 56, 110)},
}
SMALL_MODELS = ["lenet5", "alexnet", "alexnet_paper", "nin", "nin_imagenet", "googlenet",
                "vgg11", "resnet18", "resnet20", "plain20"]


def _channels(name):
    return 1 if name == "lenet5" else 3


@pytest.mark.parametrize("name", sorted(MINIMUM))
def test_minimum_input_builds_and_one_less_is_refused(name):
    size, c = MINIMUM[name], _channels(name)
    model = kcnn.models.get_model(name, input_shape=(size, size, c), num_classes=3)
    assert model.output_shape == (None, 3)
    message = re.escape(f"the minimum height and width for this architecture is {size}")
    with pytest.raises(ValueError, match=message):
        kcnn.models.get_model(name, input_shape=(size - 1, size, c), num_classes=3)


def test_googlenet_aux_minimum():
    kcnn.models.googlenet(input_shape=(65, 65, 3), num_classes=3, aux_logits=True)
    with pytest.raises(ValueError, match="minimum height and width for this architecture is 65"):
        kcnn.models.googlenet(input_shape=(64, 64, 3), num_classes=3, aux_logits=True)


@pytest.mark.parametrize("name", SMALL_MODELS)
@pytest.mark.parametrize("kwargs,message", [
    ({"input_shape": (224, 224)}, r"`input_shape` must be a tuple of 3 ints .*\(224, 224\)"),
    ({"input_shape": (1, 224, 224, 3)}, r"`input_shape` must be a tuple of 3 ints"),
    ({"input_shape": (224.0, 224, 3)}, r"`input_shape` must be a tuple of 3 ints"),
    ({"input_shape": (224, 224, 0)}, r"at least 1 channel"),
    ({"num_classes": 0}, r"`num_classes` must be an int >= 1; got num_classes=0"),
    ({"num_classes": 2.5}, r"`num_classes` must be an int >= 1; got num_classes=2.5"),
    ({"include_top": False, "pooling": "mean"},
     r"`pooling` must be one of None, 'avg', 'max'; got pooling='mean'"),
    ({"classifier_activation": "softmaxx"}, r"unknown `classifier_activation`='softmaxx'"),
])
def test_bad_arguments(name, kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        kcnn.models.get_model(name, **kwargs)
    assert name in str(info.value)


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
    assert kcnn.models.list_models("plain*") == ["plain110", "plain20", "plain32", "plain44",
                                                "plain56"]
    assert kcnn.models.list_models("nothing*") == []
    assert kcnn.models.list_models() == sorted(kcnn.models.list_models())
    with pytest.raises(ValueError, match="`pattern` must be a string"):
        kcnn.models.list_models(3)
