"""LocallyConnected2D against a NumPy reference written with plain loops."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from conftest import assert_config_roundtrip, assert_keras_roundtrip, random_images
from kcnn.layers import LocallyConnected2D


def numpy_locally_connected(x, kernel, bias, kernel_size, strides, padding):
    """Output (y, x, f) = Σ_{i, j, c} input(y·s + i, x·s + j, c) · W[y, x, (i, j, c), f] + b."""
    kh, kw = kernel_size
    sh, sw = strides
    out_h, out_w, _, filters = kernel.shape
    if padding == "same":
        ph = max((out_h - 1) * sh + kh - x.shape[1], 0)
        pw = max((out_w - 1) * sw + kw - x.shape[2], 0)
        x = np.pad(x, [(0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)])
    channels = x.shape[-1]
    w = kernel.reshape(out_h, out_w, kh, kw, channels, filters)
    y = np.zeros((x.shape[0], out_h, out_w, filters))
    for b in range(x.shape[0]):
        for r in range(out_h):
            for c in range(out_w):
                for f in range(filters):
                    total = 0.0
                    for i in range(kh):
                        for j in range(kw):
                            for ch in range(channels):
                                total += x[b, r * sh + i, c * sw + j, ch] * w[r, c, i, j, ch, f]
                    y[b, r, c, f] = total + (0.0 if bias is None else bias[r, c, f])
    return y


@pytest.mark.parametrize("kernel_size, strides, padding, use_bias", [
    ((3, 3), (1, 1), "valid", True),
    ((3, 2), (2, 1), "valid", False),
    ((3, 3), (2, 2), "same", True),
])
def test_matches_numpy_reference(kernel_size, strides, padding, use_bias):
    x = random_images((7, 6, 3))
    layer = LocallyConnected2D(4, kernel_size, strides=strides, padding=padding,
                               use_bias=use_bias, bias_initializer="random_normal")
    got = keras.ops.convert_to_numpy(layer(x))
    bias = keras.ops.convert_to_numpy(layer.bias) if use_bias else None
    expected = numpy_locally_connected(x, keras.ops.convert_to_numpy(layer.kernel), bias,
                                       kernel_size, strides, padding)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_weights_are_not_shared_and_count_is_per_position():
    layer = LocallyConnected2D(5, 3)
    layer.build((None, 10, 9, 2))
    # 8×7 positions, each with its own 3·3·2×5 kernel and 5 biases.
    assert layer.count_params() == 8 * 7 * (3 * 3 * 2 * 5 + 5)
    conv = keras.layers.Conv2D(5, 3)
    conv.build((None, 10, 9, 2))
    assert conv.count_params() == 3 * 3 * 2 * 5 + 5


def test_config_and_keras_roundtrip_with_safe_mode(tmp_path):
    layer = LocallyConnected2D(4, (3, 2), strides=(1, 2), padding="same", activation="relu",
                               kernel_regularizer="l2")
    assert_config_roundtrip(layer)
    inputs = keras.Input((6, 8, 3))
    model = keras.Model(inputs, LocallyConnected2D(2, 3, activation="tanh")(layer(inputs)))
    assert_keras_roundtrip(model, random_images((6, 8, 3)), tmp_path / "lc.keras", atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(filters=0, kernel_size=3), "filters"),
    (dict(filters=4, kernel_size=(3, 0)), "kernel_size"),
    (dict(filters=4, kernel_size=3, padding="full"), "padding"),
    (dict(filters=4, kernel_size=3, strides=-1), "strides"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LocallyConnected2D(**kwargs)


def test_unknown_or_too_small_input():
    with pytest.raises(ValueError, match="known input height and width"):
        LocallyConnected2D(4, 3)(keras.Input((None, None, 3)))
    with pytest.raises(ValueError, match="does not fit"):
        LocallyConnected2D(4, 5)(keras.Input((4, 8, 3)))


JAX_SCRIPT = """
import sys
import numpy as np
import keras
assert keras.backend.backend() == "jax"
import kcnn
from test_locally_connected import numpy_locally_connected
x = np.random.default_rng(0).standard_normal((2, 7, 6, 3)).astype("float32")
layer = kcnn.layers.LocallyConnected2D(4, 3, strides=2, padding="same",
                                       bias_initializer="random_normal")
got = np.asarray(layer(x))
expected = numpy_locally_connected(x, np.asarray(layer.kernel), np.asarray(layer.bias),
                                   (3, 3), (2, 2), "same")
up = np.asarray(kcnn.layers.bilinear_upsampler(3, 4)(x))
resized = np.asarray(keras.layers.UpSampling2D(4, interpolation="bilinear")(x))
print("ERRORS", np.abs(got - expected).max(), np.abs(up - resized)[:, 4:-4, 4:-4].max())
"""


@pytest.mark.slow
def test_locally_connected_and_bilinear_upsampling_on_jax():
    pytest.importorskip("jax")
    here = os.path.dirname(__file__)
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": os.pathsep.join([here, os.path.dirname(here),
                                          os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", JAX_SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("ERRORS"))
    lc_error, up_error = map(float, line.split()[1:])
    assert lc_error < 1e-5 and up_error < 1e-5, line
