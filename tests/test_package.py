"""`import kcnn` is lazy: each sub-package loads on first use, by attribute or by import."""

import subprocess
import sys

import pytest

import kcnn

LOADED = ("import json, sys, kcnn\n"
          "print(json.dumps([m for m in ('keras', 'tensorflow', 'kcnn.models', 'kcnn.layers')"
          " if m in sys.modules]))")


def test_import_kcnn_loads_nothing():
    proc = subprocess.run([sys.executable, "-c", LOADED], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_sub_packages_by_attribute_and_by_import():
    from kcnn import layers

    assert layers.ConvBlock.__module__ == "kcnn.layers.conv_block"
    assert "lenet5" in kcnn.models.list_models()
    assert {"layers", "models", "analysis", "convert", "data", "train", "export",
            "__version__"} <= set(dir(kcnn))
    with pytest.raises(AttributeError, match="module 'kcnn' has no attribute 'modles'"):
        kcnn.modles  # noqa: B018
