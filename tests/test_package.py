"""`import kcnn` is lazy: each sub-package loads on first use, by attribute or by import."""

import os
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


def test_load_model_after_a_bare_import_kcnn(tmp_path):
    """`import kcnn` registers nothing (it is lazy); `kcnn.load_model` registers kcnn's
    layers and loads. The fresh process runs on JAX: the file is saved here, on TensorFlow."""
    import keras
    import numpy as np

    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, kcnn.layers.ConvBlock(4, 3, batch_norm=True)(inputs))
    x = np.random.default_rng(0).standard_normal((1, 8, 8, 3)).astype("float32")
    path = tmp_path / "block.keras"
    model.save(path)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", keras.ops.convert_to_numpy(model(x, training=False)))
    script = ("import sys, numpy as np, kcnn\n"
              "assert 'kcnn.layers' not in sys.modules\n"
              f"model = kcnn.load_model({str(path)!r})\n"
              f"x, y = np.load({str(tmp_path / 'x.npy')!r}), np.load({str(tmp_path / 'y.npy')!r})\n"
              "print(float(np.abs(np.asarray(model(x, training=False)) - y).max()))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "KERAS_BACKEND": "jax"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert float(proc.stdout.strip().splitlines()[-1]) < 1e-5
