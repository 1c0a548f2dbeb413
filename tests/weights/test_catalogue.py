"""The weights catalogue: coverage, consistency with kcnn's models and with keras's own
sources, the class names, and the errors for unknown sources, models and tags."""

import inspect
import pathlib
import re
import subprocess
import sys
import tomllib

import pytest

import kcnn.models
from conftest import count_trainable
from kcnn.weights import (SOURCES, check_source, find_weights, imagenet_classes,
                          list_weights)

ROOT = pathlib.Path(__file__).resolve().parents[2]
RECORDS = list_weights()
TORCHVISION = [r for r in RECORDS if r.source == "torchvision"]
KERAS = [r for r in RECORDS if r.source == "keras"]


def test_covers_every_published_file():
    tags = {(r.model, r.tag) for r in TORCHVISION}
    v1 = {(m, "IMAGENET1K_V1") for m in (
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "alexnet", "googlenet",
        *(f"vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "_bn")))}
    v2 = {(f"resnet{d}", "IMAGENET1K_V2") for d in (50, 101, 152)}
    assert tags == v1 | v2 | {("vgg16", "IMAGENET1K_FEATURES")}
    assert {(r.model, r.include_top) for r in KERAS} == {
        ("vgg16", True), ("vgg16", False), ("vgg19", True), ("vgg19", False)}
    assert len({r.key for r in RECORDS}) == len(RECORDS) == 23


def test_records_are_consistent():
    models = set(kcnn.models.list_models())
    for r in RECORDS:
        assert r.model in models, r.key
        assert r.url.startswith("https://") and r.url.endswith("/" + r.file_name), r.key
        assert r.source in SOURCES
        p = r.preprocessing
        assert p["crop"] == 224 and p["resize"] in (232, 256), r.key
        assert len(p["mean"]) == len(p["std"]) == 3 and p["channel_order"] in ("RGB", "BGR")
        if r.classifies:
            assert 50 < r.acc1 < r.acc5 < 100, r.key
        else:
            assert r.acc1 is None and r.acc5 is None, r.key
    for r in TORCHVISION:  # the checkable hash is the SHA-256 prefix in the file name
        assert r.hash_algorithm == "sha256_prefix"
        assert re.fullmatch(r"[a-z0-9_]+(-[a-z]+)*-([0-9a-f]{8})\.pth", r.file_name), r.file_name
        assert r.file_name.endswith(f"-{r.file_hash}.pth")
        assert r.url.startswith("https://download.pytorch.org/models/")
        assert r.preprocessing["channel_order"] == "RGB"
        # V2 weights are evaluated at a 232 resize (torchvision's transforms), V1 at 256
        assert r.preprocessing["resize"] == (232 if r.tag == "IMAGENET1K_V2" else 256)
    for r in KERAS:
        assert r.hash_algorithm == "md5" and re.fullmatch(r"[0-9a-f]{32}", r.file_hash)
        assert r.preprocessing["channel_order"] == "BGR"
        assert r.preprocessing["mean"] == [103.939, 116.779, 123.68]
    # exactly one default per model and source (keras: one with, one without the top)
    for source in SOURCES:
        for model in {r.model for r in RECORDS if r.source == source}:
            defaults = [r for r in RECORDS if (r.model, r.source) == (model, source) and r.default]
            assert len(defaults) == (2 if source == "keras" else 1), (model, source)


def _head_params(num_classes=1000):
    """VGG's dense layers at 224×224: 7·7·512 → 4096 → 4096 → classes, with biases."""
    return (25088 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * num_classes + num_classes)


@pytest.mark.parametrize("record", [r for r in RECORDS if not r.builder_kwargs],
                         ids=lambda r: "-".join(r.key))
def test_parameter_counts_match_kcnn(record):
    count = kcnn.models.model_info(record.model).num_params
    if not record.include_top:
        count -= _head_params()
    assert record.num_params == count


@pytest.mark.slow  # builds GoogLeNet: 1-5 s
def test_googlenet_torchvision_form_parameter_count():
    # The record's builder arguments build torchvision's form (BatchNorm, a 3×3 "5×5"
    # branch), whose trainable parameters are torchvision's num_params (main network).
    record = find_weights("googlenet", "torchvision")
    model = kcnn.models.googlenet(input_shape=(32, 32, 3), **record.builder_kwargs)
    assert count_trainable(model) == record.num_params == 6_624_904


def test_keras_records_match_keras_sources():
    # URLs and file hashes as keras.applications' own code has them (installed keras).
    from keras.src.applications import vgg16, vgg19

    for module in (vgg16, vgg19):
        source = inspect.getsource(module)
        name = module.__name__.rsplit(".", 1)[1]
        published = dict(re.findall(r'"(\w+\.h5)",\s*\w+,\s*cache_subdir="models",\s*'
                                    r'file_hash="([0-9a-f]+)"', source))
        assert len(published) == 2
        ours = {r.file_name: r for r in KERAS if r.model == name}
        assert {n: r.file_hash for n, r in ours.items()} == published
        assert {r.url for r in ours.values()} == {module.WEIGHTS_PATH, module.WEIGHTS_PATH_NO_TOP}
        top = next(r for r in ours.values() if r.include_top)
        assert top.url == module.WEIGHTS_PATH


def test_imagenet_class_names():
    names = imagenet_classes()
    assert len(names) == 1000 and names[0] == "tench" and names[-1] == "toilet tissue"
    assert all(isinstance(n, str) and n.strip() == n and n for n in names)
    assert len(set(names)) == 1000  # torchvision tells the two "crane"s and "maillot"s apart


def test_data_files_ship_with_the_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["kcnn.weights"]
    shipped = {p.name for g in globs for p in (ROOT / "kcnn" / "weights").glob(g)}
    assert {"catalogue.json", "imagenet_classes.json"} <= shipped


def test_find_weights_defaults_and_tags():
    assert find_weights("resnet50", "torchvision").tag == "IMAGENET1K_V2"
    assert find_weights("resnet50", "torchvision", tag="IMAGENET1K_V1").file_name == (
        "resnet50-0676ba61.pth")
    assert find_weights("vgg16", "keras", include_top=False).file_name == (
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
    assert find_weights("resnet18", "torchvision").crop_fraction == 224 / 256
    keras_vggs = [r.model for r in list_weights("vgg1?", source="keras")]
    assert keras_vggs == ["vgg16", "vgg16", "vgg19", "vgg19"]


@pytest.mark.parametrize("call, message", [
    (lambda: check_source("torchvison"), r"Unknown weights source 'torchvison'\. Did you mean "
                                         r"'torchvision'\? Known sources: torchvision, keras"),
    (lambda: find_weights("resnet50", "Keras"), r"Did you mean 'keras'"),
    (lambda: list_weights(source="tv"), r"Unknown weights source 'tv'"),
    (lambda: find_weights("resnet51", "torchvision"),
     r"No torchvision weights for model='resnet51'\. Did you mean 'resnet50'"),
    (lambda: find_weights("resnet50", "keras"), r"Models with keras weights: vgg16, vgg19"),
    (lambda: find_weights("resnet50", "torchvision", tag="IMAGENET1K_V3"),
     r"Did you mean 'IMAGENET1K_V2', 'IMAGENET1K_V1'\? Tags: IMAGENET1K_V1, IMAGENET1K_V2"),
])
def test_unknown_names_suggest_close_ones(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_catalogue_imports_neither_numpy_nor_keras():
    script = ("import sys, kcnn\n"
              "kcnn.weights.list_weights(); kcnn.weights.imagenet_classes()\n"
              "print([m for m in ('numpy', 'keras', 'h5py', 'safetensors') if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
