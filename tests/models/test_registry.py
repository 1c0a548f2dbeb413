"""The registry and the model records: lazy builders, one record per model, names."""

import dataclasses
import importlib
import inspect
import re
import subprocess
import sys
import textwrap

import pytest

import kcnn
from kcnn.models import ModelInfo, _registry

NAMES = kcnn.models.list_models()
FAMILIES = sorted({kcnn.models.model_info(n).family for n in NAMES})
NO_KERAS = textwrap.dedent("""
    import sys
    import kcnn
    import kcnn.models
    names = kcnn.models.list_models()
    infos = [kcnn.models.model_info(n) for n in names]
    assert len(names) >= 30 and infos[0].num_params > 0, names
    from kcnn.models import ModelInfo, get_model, model_info, register_model  # noqa: F401
    import argparse
    from kcnn.models import _cli
    parser = argparse.ArgumentParser()
    _cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["models", "--details"])
    assert args.func(args) == 0
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("keras", "tensorflow", "jax"))
    print("HEAVY", heavy)
    assert not heavy, heavy
    # Nor any builder's family module (they import Keras).
    families = [m for m in sys.modules if m.startswith("kcnn.models.")
                and not m.split(".")[-1].startswith("_")]
    assert not families, families
    print("OK")
""")


def test_listing_and_facts_import_neither_keras_nor_tensorflow():
    proc = subprocess.run([sys.executable, "-c", NO_KERAS], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "HEAVY []" in proc.stdout and "OK" in proc.stdout
    assert "lenet5" in proc.stdout and "25,557,032" in proc.stdout  # the --details table


def test_natural_order():
    names = kcnn.models.list_models()
    for before, after in [("resnet18", "resnet101"), ("resnet56", "resnet110"),
                          ("vgg11", "vgg11_bn"), ("vgg11_bn", "vgg13"), ("plain110", "resnet18"),
                          ("alexnet", "alexnet_paper"), ("nin", "nin_imagenet")]:
        assert names.index(before) < names.index(after), (before, after)
    assert kcnn.models.list_models("resnet1*") == ["resnet18", "resnet101", "resnet110",
                                                   "resnet152"]
    assert kcnn.models.list_models("vgg1*") == ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn",
                                                "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]


def test_name_passes_through_to_the_builder():
    assert kcnn.models.get_model("lenet5", name="x").name == "x"
    assert kcnn.models.get_model("resnet20", input_shape=(8, 8, 3), name="y").name == "y"
    with pytest.raises(TypeError):
        kcnn.models.get_model(name="lenet5")  # the model name is positional only


def test_model_info_of_an_unknown_name():
    with pytest.raises(ValueError, match=r"Unknown model name='resnet5'\. Did you mean .*'resnet50'"):
        kcnn.models.model_info("resnet5")
    with pytest.raises(ValueError, match=r"Unknown model name=3"):
        kcnn.models.model_info(3)
    with pytest.raises(AttributeError, match="no attribute 'resnet5'"):
        kcnn.models.resnet5  # noqa: B018


def check_record(name):
    """Complete, and the same as the builder's signature defaults and docstring."""
    info = kcnn.models.model_info(name)
    assert info.name == name
    optional = {"reference_accuracy", "min_input_size_aux"}
    missing = [f.name for f in dataclasses.fields(info)
               if f.name not in optional and getattr(info, f.name) is None]
    assert not missing, f"fill {missing} in kcnn/models/_info.py"
    assert info.task in ("classification", "segmentation")
    height, width, channels = info.default_input_shape
    assert 1 <= info.min_input_size <= min(height, width) and channels >= 1
    assert isinstance(info.deviations, tuple) and all(isinstance(d, str) for d in info.deviations)
    # The catalogue's records of this model; a builder with weights takes `weights=`.
    assert info.weights == tuple(f"{r.source}:{r.tag}"
                                 for r in kcnn.weights.list_weights(name))
    assert ("weights" in inspect.signature(kcnn.models.load_builder(name)).parameters) == \
        bool(info.weights)
    for acc in info.reference_accuracy or ():
        assert acc.metric in ("top-1 error", "top-5 error", "top-1 accuracy")
        assert 0 < acc.percent < 100
    builder = kcnn.models.load_builder(name)
    params = inspect.signature(builder).parameters
    assert params["input_shape"].default == info.default_input_shape
    assert params["num_classes"].default == info.num_classes
    assert ("aux_logits" in params) == (info.min_input_size_aux is not None)
    doc = builder.__doc__
    count = re.search(r"([\d,]+) parameters", doc)
    assert count and count[1] == f"{info.num_params:,}", count and count[0]
    least = re.search(r"At least (\d+)×\1", doc)
    assert least and int(least[1]) == info.min_input_size, least and least[0]
    if info.min_input_size_aux is not None:
        assert f"or {info.min_input_size_aux}×{info.min_input_size_aux} with" in doc


def test_every_record_is_complete_and_agrees_with_its_builder():
    # One test for all (a test per model costs more in fixtures than in checks).
    failures = {}
    for name in NAMES:
        try:
            check_record(name)
        except AssertionError as e:
            failures[name] = str(e)
    assert not failures, failures


def test_records_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        kcnn.models.model_info("lenet5").num_params = 1


def test_every_family_registers_exactly_its_records():
    for family in FAMILIES:
        importlib.import_module(f"kcnn.models.{family}")
    assert set(_registry._MODELS) >= set(NAMES)
    for name in NAMES:
        family = kcnn.models.model_info(name).family
        assert _registry._MODELS[name].__module__ == f"kcnn.models.{family}", name


def test_a_kcnn_builder_without_a_record_fails_at_registration(monkeypatch):
    monkeypatch.setattr(_registry, "_MODELS", dict(_registry._MODELS))

    def resnet9(**_):
        pass

    resnet9.__module__ = "kcnn.models.resnet"
    with pytest.raises(ValueError, match=r"kcnn.models.resnet.resnet9 has no ModelInfo record"):
        _registry.register_model(resnet9)

    def vgg11(**_):  # a record of another family
        pass

    vgg11.__module__ = "kcnn.models.resnet"
    with pytest.raises(ValueError, match=r"its record .* says family='vgg'"):
        _registry.register_model(vgg11)
    assert "resnet9" not in _registry._MODELS


def test_an_outside_builder_with_and_without_facts(monkeypatch):
    monkeypatch.setattr(_registry, "_MODELS", dict(_registry._MODELS))
    monkeypatch.setattr(_registry, "_EXTERNAL", {})
    info = ModelInfo(name="my_net", default_input_shape=(8, 8, 1), num_classes=2)

    @kcnn.models.register_model(info=info)
    def my_net(**kwargs):
        return kwargs

    @kcnn.models.register_model
    def bare_net(**kwargs):
        return kwargs

    assert kcnn.models.model_info("my_net") is info
    assert kcnn.models.model_info("bare_net") == ModelInfo(name="bare_net")
    assert {"my_net", "bare_net"} <= set(kcnn.models.list_models())
    assert kcnn.models.get_model("bare_net", name="z") == {"name": "z"}
    def other():
        pass

    with pytest.raises(ValueError, match="`info` must be a ModelInfo with name='other'"):
        kcnn.models.register_model(info=info)(other)
    with pytest.raises(ValueError, match="already registered"):
        kcnn.models.register_model(bare_net)

    def resnet50():  # a kcnn name, even before kcnn.models.resnet is imported
        pass

    with pytest.raises(ValueError, match="'resnet50' is the name of a kcnn model"):
        kcnn.models.register_model(resnet50)


def test_builders_are_package_attributes_whatever_is_imported_first():
    assert kcnn.models.resnet50 is _registry.load_builder("resnet50")
    from kcnn.models import googlenet, nin
    assert callable(nin) and callable(googlenet)
    assert {"resnet50", "nin", "get_model", "model_info"} <= set(dir(kcnn.models))
    # Importing a family module binds it on its package; three share a builder's name. The
    # package keeps the builder (this is the import system's own setattr).
    for name in ("alexnet", "googlenet", "nin"):
        module = importlib.import_module(f"kcnn.models.{name}")
        setattr(kcnn.models, name, module)
        assert getattr(kcnn.models, name) is module.__dict__[name], name
    assert inspect.ismodule(kcnn.models.resnet)  # the other family modules stay modules
