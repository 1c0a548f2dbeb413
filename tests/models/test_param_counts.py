"""Trainable parameter counts pinned to shared/REFERENCE.md (and to arithmetic where it says so).

The numbers below are written here, independently of the code. Each model's record
(`kcnn.models.model_info`) is pinned to them, and each builder's default build is checked
against its record: parameters, and MACs as `kcnn.analysis.summarize` counts them (the one
full-size build of every model in the suite that compares counts).
"""

import pytest

import kcnn
from conftest import check_totals, count_trainable
from kcnn.analysis import summarize

# Counted, never run: random initial values would cost most of the time (conftest.py).
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("zero_initializers")]

# (test id, builder name, kwargs, reference count, source)
REFERENCE = [
    ("lenet5", "lenet5", {}, 61_706, "REFERENCE.md, modern LeNet-5"),
    ("alexnet", "alexnet", {}, 61_100_840, "torchvision alexnet"),
    ("alexnet_paper", "alexnet_paper", {}, 60_965_224, "paper two towers, arithmetic"),
    ("vgg11", "vgg11", {}, 132_863_336, "torchvision"),
    ("vgg13", "vgg13", {}, 133_047_848, "torchvision"),
    ("vgg16", "vgg16", {}, 138_357_544, "torchvision / keras.applications"),
    ("vgg19", "vgg19", {}, 143_667_240, "torchvision / keras.applications"),
    ("vgg11_bn", "vgg11_bn", {}, 132_868_840, "torchvision vgg11_bn"),
    ("vgg16_bn", "vgg16_bn", {}, 138_365_992, "torchvision vgg16_bn"),
    ("nin", "nin", {}, 966_986, "Lin et al. CIFAR-10 layout"),
    ("googlenet_paper", "googlenet", {}, 6_998_552, "paper Table 1, arithmetic"),
    ("googlenet_paper_aux", "googlenet", {"aux_logits": True}, 13_378_280, "arithmetic"),
    ("googlenet_paper_bn", "googlenet", {"batch_norm": True}, 7_005_832, "arithmetic"),
    ("googlenet_torchvision", "googlenet", {"batch_norm": True, "branch3_kernel_size": 3},
     6_624_904, "torchvision googlenet"),
    ("googlenet_torchvision_aux", "googlenet",
     {"batch_norm": True, "branch3_kernel_size": 3, "aux_logits": True},
     13_004_888, "torchvision googlenet(aux_logits=True)"),
    ("resnet18", "resnet18", {}, 11_689_512, "torchvision"),
    ("resnet34", "resnet34", {}, 21_797_672, "torchvision"),
    ("resnet50", "resnet50", {}, 25_557_032, "torchvision"),
    ("resnet101", "resnet101", {}, 44_549_160, "torchvision"),
    ("resnet152", "resnet152", {}, 60_192_808, "torchvision"),
    ("resnet50_v1", "resnet50", {"stride_in_1x1": True}, 25_557_032, "stride placement is free"),
    ("resnet20", "resnet20", {}, 269_722, "He et al. §4.2"),
    ("resnet32", "resnet32", {}, 464_154, "He et al. §4.2"),
    ("resnet44", "resnet44", {}, 658_586, "He et al. §4.2"),
    ("resnet56", "resnet56", {}, 853_018, "He et al. §4.2"),
    ("resnet110", "resnet110", {}, 1_727_962, "He et al. §4.2"),
    ("resnet20_option_b", "resnet20", {"shortcut": "projection"}, 272_474, "arithmetic"),
    *[(f"plain{d}", f"plain{d}", {}, n, "equal to the option-A ResNet")
      for d, n in ((20, 269_722), (32, 464_154), (44, 658_586), (56, 853_018),
                   (110, 1_727_962))],
]


def _conv(k, cin, cout, bias=True, groups=1):
    return k * k * cin // groups * cout + (cout if bias else 0)


def _dense(n_in, n_out):
    return n_in * n_out + n_out


# Counts REFERENCE.md asks us to compute: the arithmetic, written out independently of the code.
ARITHMETIC = [
    # torchvision's *_bn keep the conv bias and add BN gamma and beta per channel.
    ("vgg13_bn", "vgg13_bn", {},
     133_047_848 + 2 * (2 * 64 + 2 * 128 + 2 * 256 + 4 * 512), "vgg13 + BN"),
    ("vgg19_bn", "vgg19_bn", {},
     143_667_240 + 2 * (2 * 64 + 2 * 128 + 4 * 256 + 8 * 512), "vgg19 + BN"),
    ("nin_imagenet", "nin_imagenet", {},
     _conv(11, 3, 96) + 2 * _conv(1, 96, 96)
     + _conv(5, 96, 256) + 2 * _conv(1, 256, 256)
     + _conv(3, 256, 384) + 2 * _conv(1, 384, 384)
     + _conv(3, 384, 1024) + _conv(1, 1024, 1024) + _conv(1, 1024, 1000),
     "NiN ImageNet layout"),
    ("alexnet_paper_arithmetic", "alexnet_paper", {},
     _conv(11, 3, 96) + _conv(5, 96, 256, groups=2) + _conv(3, 256, 384)
     + _conv(3, 384, 384, groups=2) + _conv(3, 384, 256, groups=2)
     + _dense(6 * 6 * 256, 4096) + _dense(4096, 4096) + _dense(4096, 1000),
     "paper AlexNet written out"),
    ("fcn32s", "fcn32s", {},
     14_714_688 + _conv(7, 512, 4096) + _conv(1, 4096, 4096) + _conv(1, 4096, 21)
     + 64 * 64 * 21 * 21,
     "VGG-16 convolutions, fc6/fc7 as convolutions, score, 64×64/32 upsampler without bias"),
]


CASES = REFERENCE + ARITHMETIC
DEFAULT_BUILDS = [c for c in CASES if not c[2]]   # pinned through the records, below
VARIANT_BUILDS = [c for c in CASES if c[2]]
NAMES = kcnn.models.list_models()

# MACs of one image, written out: LeNet-5 at 32×32 (pooling is not counted).
HAND_MACS = {"lenet5": 28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 400 * 120 + 120 * 84 + 84 * 10}


def test_every_record_count_is_the_reference():
    unpinned = [n for n in NAMES if n not in {c[1] for c in DEFAULT_BUILDS}]
    assert not unpinned, f"pin these models' default-build parameter counts here: {unpinned}"
    wrong = {(case_id, source): (kcnn.models.model_info(name).num_params, expected)
             for case_id, name, _, expected, source in DEFAULT_BUILDS
             if kcnn.models.model_info(name).num_params != expected}
    assert not wrong, f"(record, reference): {wrong}"


@pytest.mark.parametrize("name", NAMES)
def test_default_build_matches_its_record(name):
    info = kcnn.models.model_info(name)
    model = kcnn.models.get_model(name)
    assert count_trainable(model) == info.num_params
    assert tuple(model.input_shape[1:]) == info.default_input_shape
    assert model.output_shape[-1] == info.num_classes
    summary = summarize(model)
    check_totals(name, model, summary)
    assert summary.totals["macs"] == info.macs
    if name in HAND_MACS:
        assert info.macs == HAND_MACS[name]


@pytest.mark.parametrize("case_id,name,kwargs,expected,source", VARIANT_BUILDS,
                         ids=[c[0] for c in VARIANT_BUILDS])
def test_variant_trainable_parameters(case_id, name, kwargs, expected, source):
    model = kcnn.models.get_model(name, **kwargs)
    assert count_trainable(model) == expected, source
