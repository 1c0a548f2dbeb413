"""Grad-CAM against independent computations, and where its maps land on the image."""

import keras
import numpy as np
import pytest
from keras import layers, ops
from PIL import Image

import kcnn
from kcnn.explain import (default_layer, explain_image, grad_cam, layer_fields,
                          on_original, placement, unit_field)
from kcnn.preprocessing import Preprocessing


class _Mask(keras.layers.Layer):
    """Multiplies by a fixed (h, w, channels) mask: the evidence of each channel is cut
    to where the mask is 1."""

    def __init__(self, mask, **kwargs):
        super().__init__(**kwargs)
        self.mask = np.asarray(mask, np.float32)

    def call(self, x):
        return x * ops.convert_to_tensor(self.mask)


def _quadrant_model(height, width):
    """Class 0's evidence is the top-right quadrant of the image, class 1's the
    bottom-left: an identity convolution copies the image into two channels, the mask
    keeps channel 0 in the top right and channel 1 in the bottom left only, and the head
    adds up channel k's mean into class k."""
    x = keras.Input((height, width, 1))
    conv = layers.Conv2D(2, 3, padding="same", use_bias=False, name="copy")
    y = conv(x)
    mask = np.zeros((height, width, 2))
    mask[:height // 2, width // 2:, 0] = 1
    mask[height // 2:, :width // 2, 1] = 1
    y = _Mask(mask, name="masked")(y)
    y = layers.GlobalAveragePooling2D()(y)
    dense = layers.Dense(2, name="predictions")
    model = keras.Model(x, dense(y))
    kernel = np.zeros((3, 3, 1, 2), np.float32)
    kernel[1, 1] = 1
    conv.set_weights([kernel])
    dense.set_weights([np.eye(2, dtype=np.float32), np.zeros(2, np.float32)])
    return model


@pytest.mark.parametrize("class_index, quadrant", [(0, "top right"), (1, "bottom left")])
def test_the_map_peaks_in_the_quadrant_that_holds_the_class_evidence(
        class_index, quadrant, tmp_path):
    # A non-square image, twice the model's input, whose brightest part is the bottom-right
    # quadrant (no class's evidence): a map of plain activations, a transposed map or a
    # map placed wrongly on the original would peak elsewhere.
    rng = np.random.default_rng(0)
    original = rng.integers(40, 120, (48, 64)).astype(np.uint8)
    original[24:, 32:] = 250
    path = tmp_path / "image.png"
    Image.fromarray(original).save(path)
    model = _quadrant_model(24, 32)
    prep = Preprocessing(image_size=(24, 32), channels=1)
    result = explain_image(model, prep, str(path), str(tmp_path / "out"), layer="masked",
                           class_index=class_index)
    assert result.cam.class_index == class_index
    heat = on_original(result.cam.map, layer_fields(model)["masked"],
                       placement(prep, original.shape))
    assert heat.shape == original.shape
    row, column = np.unravel_index(np.nanargmax(heat), heat.shape)
    top, right = row < 24, column >= 32
    assert (top and right) if quadrant == "top right" else (not top and not right), (
        row, column)
    # Away from the quadrant's border (the interpolation's one unit), nothing.
    outside = np.ones(heat.shape, bool)
    rows, columns = (slice(0, 24), slice(32, 64)) if top else (slice(24, 48), slice(0, 32))
    outside[rows, columns] = False
    outside[20:28, :] = outside[:, 28:36] = False
    assert np.nanmax(heat[outside]) == 0 and heat[rows, columns].min() > 0


def _conv(x, kernel, bias):
    """A 'valid' 2-D convolution in NumPy (float64): x (h, w, c), kernel (kh, kw, c, k)."""
    windows = np.lib.stride_tricks.sliding_window_view(x, kernel.shape[:2], axis=(0, 1))
    return np.einsum("ijcab,abck->ijk", windows, kernel) + bias


@pytest.mark.parametrize("head", ["linear", "softmax", "conv_gap"])
def test_the_map_is_the_weighted_activation_formula_recomputed_in_numpy(head):
    # Grad-CAM of class c at layer A: w_k = mean_ij dy_c/dA_ijk, map = ReLU(sum_k w_k A_k).
    # Here A, y_c and the gradients are computed in NumPy: the gradient exactly for a
    # linear head (dense on the flattened map: the dense weights) and for it with a
    # softmax (y_c is then log p_c: W_c - sum_j p_j W_j), by central finite differences in
    # float64 for a nonlinear one (conv, ReLU, global mean, dense).
    x_in = keras.Input((10, 10, 2))
    a = layers.Conv2D(4, 3, activation="relu", name="target")(x_in)
    if head in ("linear", "softmax"):
        y = layers.Dense(5, name="predictions", activation=None if head == "linear"
                         else "softmax")(layers.Flatten()(a))
    else:
        y = layers.Conv2D(3, 3, activation="relu", name="conv2")(a)
        y = layers.Dense(5, name="predictions")(layers.GlobalAveragePooling2D()(y))
    model = keras.Model(x_in, y)
    rng = np.random.default_rng(3)  # NumPy's weights: the same on every backend
    for layer in model.layers:
        layer.set_weights([0.5 * rng.standard_normal(w.shape) for w in layer.get_weights()])
    x = rng.standard_normal((10, 10, 2))
    w1, b1 = (np.asarray(v, np.float64) for v in model.get_layer("target").get_weights())
    wd, bd = (np.asarray(v, np.float64) for v in model.get_layer("predictions").get_weights())
    A = np.maximum(_conv(x, w1, b1), 0)
    c = 2
    if head == "linear":
        gradient = wd[:, c].reshape(A.shape)  # Flatten is row-major (h, w, k)
    elif head == "softmax":
        z = A.reshape(-1) @ wd + bd
        p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        gradient = (wd[:, c] - wd @ p).reshape(A.shape)
    else:
        w2, b2 = (np.asarray(v, np.float64) for v in model.get_layer("conv2").get_weights())

        def score(a):
            return np.maximum(_conv(a, w2, b2), 0).mean(axis=(0, 1)) @ wd[:, c] + bd[c]

        gradient, eps = np.zeros_like(A), 1e-6
        for index in np.ndindex(A.shape):
            step = np.zeros_like(A)
            step[index] = eps
            gradient[index] = (score(A + step) - score(A - step)) / (2 * eps)
    weights = gradient.mean(axis=(0, 1))
    expected = np.maximum((A * weights).sum(axis=-1), 0)
    cam = grad_cam(model, x.astype(np.float32), layer="target", class_index=c)
    assert cam.layer == "target" and cam.class_index == c
    np.testing.assert_allclose(cam.activations, A, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(cam.weights, weights, rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(cam.map, expected, rtol=1e-3, atol=1e-5)
    assert expected.max() > 0 and (expected == 0).any()  # the ReLU keeps and cuts
    # Without a class: the top one.
    top = grad_cam(model, x.astype(np.float32), layer="target")
    assert top.class_index == int(np.argmax(top.outputs))


@pytest.mark.parametrize("name, kwargs, layer", [
    ("lenet5", {}, "s4"),                                   # a dense head
    ("nin", {"input_shape": (32, 32, 3)}, "classifier"),   # convolutional, global-pooled
    ("resnet20", {"input_shape": (16, 16, 3)}, "stage3_block3"),
    ("vgg11", {"input_shape": (32, 32, 3)}, "block5_conv2"),  # block5_pool is 1×1
    pytest.param("googlenet", {"input_shape": (97, 97, 3), "aux_logits": True},
                 "inception_5b", marks=pytest.mark.slow),  # aux heads dropped
])
def test_the_default_layer_is_the_last_convolutional_stage(name, kwargs, layer):
    model = kcnn.models.get_model(name, num_classes=4, **kwargs)
    assert default_layer(model) == layer
    x = np.random.default_rng(0).uniform(size=model.inputs[0].shape[1:]).astype(np.float32)
    cam = grad_cam(model, x, class_index=1)
    assert cam.layer == layer and cam.outputs.shape == (4,)
    assert cam.map.shape == tuple(model.get_layer(layer).output.shape[1:3])
    assert cam.map.shape[0] * cam.map.shape[1] > 1 and np.isfinite(cam.map).all()
    if name == "lenet5":  # an image of another shape: named, before the model runs
        with pytest.raises(ValueError, match=r"`x` must be one preprocessed image "
                                             r"\(32, 32, 1\) .* got shape \(1, 5, 5, 1\)"):
            grad_cam(model, np.zeros((5, 5, 1), np.float32))


@pytest.mark.parametrize("crop_fraction", [None, 0.8])
def test_the_placement_is_where_the_preprocessing_resamples(crop_fraction):
    # A ramp image whose pixel values are their own column (row) coordinates: bilinear
    # resizing keeps a ramp exact away from the borders, so each model pixel's value is
    # where its centre lies on the original, which `placement` must say.
    from kcnn.data.preprocessing import resize

    prep = Preprocessing(image_size=(8, 8), channels=1, crop_fraction=crop_fraction)
    height, width = 30, 50
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    place = placement(prep, (height, width))
    for axis, ramp in ((0, rows), (1, columns)):
        resized = np.asarray(resize(ramp[..., None], prep))[..., 0]
        centres = place.to_original(np.arange(8) + 0.5, axis) - 0.5
        values = resized.mean(axis=1 - axis)
        np.testing.assert_allclose(values[1:-1], centres[1:-1], atol=1e-3)
    if crop_fraction is not None:
        assert place.resized == (10, 16) and place.offset == (1, 4)


JAX_SCRIPT = """
import sys
import keras
assert keras.backend.backend() == "jax", keras.backend.backend()
import test_gradcam
# The nonlinear head (finite differences): JAX runs eagerly one compiled op at a time,
# ~3 s a case on 2 cores.
test_gradcam.test_the_map_is_the_weighted_activation_formula_recomputed_in_numpy("conv_gap")
assert "tensorflow" not in sys.modules, "Grad-CAM on JAX must not need TensorFlow"
print("JAX OK")
"""


@pytest.mark.slow
def test_on_jax_the_map_is_the_same_numpy_recomputation():
    # The same independent check, with the gradient from jax.grad (a fresh process: the
    # backend is chosen once per process), and without TensorFlow.
    import os
    import subprocess
    import sys

    pytest.importorskip("jax")
    here = os.path.dirname(os.path.abspath(__file__))
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_backend_optimization_level=0",
           "PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", JAX_SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and "JAX OK" in proc.stdout, proc.stderr[-4000:]


def test_a_model_built_for_any_size_is_analysed_at_the_preprocessing_size():
    model = kcnn.models.nin(input_shape=(None, None, 3), num_classes=4)
    x = np.random.default_rng(0).uniform(size=(16, 16, 3)).astype(np.float32)
    cam = grad_cam(model, x)
    assert cam.layer == "classifier" and cam.map.shape == (4, 4)
    field = unit_field(model, cam.layer, (1, 3), layer_fields(model, (16, 16, 3)),
                       map_size=cam.map.shape)
    row = {r["name"]: r for r in kcnn.analysis.summarize(model, (16, 16, 3))}["classifier"]
    size, jump, start = row["receptive_field"], row["jump"], row["start"]
    assert field.size == size and field.jump == jump
    half = [(s - 1) / 2 for s in size]
    assert field.box == (start[0] + jump[0] - half[0], start[1] + 3 * jump[1] - half[1],
                         start[0] + jump[0] + half[0], start[1] + 3 * jump[1] + half[1])
