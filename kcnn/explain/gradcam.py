"""Grad-CAM (Selvaraju et al., 2017) for a kcnn classifier, and the layer it looks at.

For a class c and a feature map A of K channels (a layer's output, h × w × K), Grad-CAM
weighs each channel by the spatial mean of the gradient of the class score y_c with
respect to it and keeps the positive part of the weighted sum:

    w_k = mean_ij  d y_c / d A_ijk,        map_ij = ReLU(sum_k w_k A_ijk).

y_c is the class's logit when the model outputs logits (kcnn's builders do, unless
`classifier_activation` is set); a model that ends in a softmax gives probabilities, and
y_c is then the log-probability. The gradient is taken with the backend's own automatic
differentiation in one function, `score_gradients` (TensorFlow's `GradientTape`, or
`jax.grad` on JAX).
"""

import difflib
from typing import NamedTuple

import keras
import numpy as np

from kcnn.models.heads import inference_model, outputs_logits


class GradCam(NamedTuple):
    """The result of `grad_cam`.

    Attributes:
        map: float64 (h, w). ReLU(sum_k w_k A_k), at the layer's resolution, not scaled.
        layer: str. The layer whose output is A.
        class_index: int. The class explained.
        outputs: float64 (num_classes,). The model's main output for the image (logits
            or probabilities, as the model gives them).
        activations: float64 (h, w, K). A.
        weights: float64 (K,). w_k.
    """

    map: np.ndarray
    layer: str
    class_index: int
    outputs: np.ndarray
    activations: np.ndarray
    weights: np.ndarray


def _output_shape(layer):
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError):  # no output, or called more than once
        return None


def spatial_layers(model):
    """The layers on the main output's path whose output is a 4-D feature map.

    Args:
        model: a functional `keras.Model` (auxiliary heads are left out, as
            `kcnn.models.heads.inference_model` leaves them out).

    Returns:
        The layers, input to output, with an output of shape (batch, height, width,
        channels); the input layer is not one of them.
    """
    model = inference_model(model)
    return [layer for layer in model.layers
            if not isinstance(layer, keras.layers.InputLayer)
            and _output_shape(layer) is not None and len(_output_shape(layer)) == 4]


def default_layer(model):
    """The name of the layer Grad-CAM uses by default: the last convolutional stage.

    That is the last layer on the main output's path with a 4-D output of more than one
    position (a 1 × 1 map has nothing to localize): LeNet-5's `s4`, VGG's `block5_pool`
    (at 224 × 224; at 32 × 32, where that is 1 × 1, `block5_conv2`),
    a ResNet's last block, GoogLeNet's `inception_5b`, NiN's convolutional `classifier`
    (its class maps, before the global pooling). A map whose height or width is unknown
    (a model built for any size) counts as more than one position.

    Raises:
        ValueError: if the model has no such layer.
    """
    layers = spatial_layers(model)
    for layer in reversed(layers):
        _, height, width, _ = _output_shape(layer)
        if height is None or width is None or height * width > 1:
            return layer.name
    shapes = ", ".join(f"{layer.name} {_output_shape(layer)[1:]}" for layer in layers)
    raise ValueError(f"Model {model.name!r} has no layer with a feature map of more than one "
                     f"position to explain (its 4-D layers: {shapes or 'none'}); give a "
                     "larger input or a layer.")


def find_layer(model, name=None):
    """The layer named `name` (default: `default_layer`), checked to give a 4-D map.

    Raises:
        ValueError: naming the layer: unknown (with the close names), or its output is
            not (batch, height, width, channels).
    """
    model = inference_model(model)
    if name is None:
        name = default_layer(model)
    names = [layer.name for layer in model.layers]
    if name not in names:
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.4)
        hint = (f"close names: {', '.join(close)}" if close else
                f"its 4-D layers: {', '.join(la.name for la in spatial_layers(model))}")
        raise ValueError(f"layer {name!r} is not in model {model.name!r} ({hint}).")
    layer = model.get_layer(name)
    shape = _output_shape(layer)
    if shape is None or len(shape) != 4 or isinstance(layer, keras.layers.InputLayer):
        what = "is the input" if isinstance(layer, keras.layers.InputLayer) else (
            f"has output shape {shape}" if shape is not None else "has no single output")
        raise ValueError(
            f"layer {name!r} of model {model.name!r} {what}, not a 4-D (batch, height, "
            "width, channels) feature map; its 4-D layers: "
            f"{', '.join(la.name for la in spatial_layers(model))}.")
    return layer


def score_gradients(model, layer, x, class_index=None):
    """The layer's output A, d y_c / d A and the model's output, for one image.

    The one place where a gradient is taken, with the backend's own automatic
    differentiation: TensorFlow's `GradientTape` around the forward pass; on JAX,
    `jax.grad` of the model from the layer on (the graph cut at the layer's output, which
    needs every later layer to depend on earlier ones through it only, as in kcnn's
    models, whose branches and shortcuts are inside their blocks).

    Args:
        model: a single-output functional `keras.Model`.
        layer: str. A layer of `model` with a 4-D output.
        x: float32 array (1, H, W, C). The preprocessed image.
        class_index: int or None. The class c; None: the top one.

    Returns:
        `(A, dA, outputs, class_index)`: float64 arrays (h, w, K), (h, w, K), and
        (num_classes,), and the int c.

    Raises:
        ValueError: on a backend other than TensorFlow and JAX; on JAX, a model that
            cannot be cut at the layer.
    """
    from keras import ops

    backend = keras.backend.backend()
    if backend not in ("tensorflow", "jax"):
        raise ValueError(f"Grad-CAM takes its gradients with TensorFlow or JAX; the Keras "
                         f"backend is {backend!r}: set KERAS_BACKEND=tensorflow.")
    tensor = model.get_layer(layer).output
    probe = keras.Model(model.inputs[0], [tensor, model.output])
    logits = outputs_logits(model)

    def score(outputs):  # y_c: the logit, or the log-probability
        y = outputs[:, class_index]
        return ops.sum(y if logits else ops.log(ops.maximum(y, 1e-30)))

    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            activations, outputs = probe(tf.convert_to_tensor(x, tf.float32), training=False)
            if class_index is None:
                class_index = int(np.argmax(outputs[0].numpy()))
            y = score(outputs)
        gradients = tape.gradient(y, activations)
        if gradients is None:  # the output does not depend on the layer
            gradients = tf.zeros_like(activations)
    else:
        import jax

        activations, outputs = probe(x, training=False)
        if class_index is None:
            class_index = int(np.argmax(np.asarray(outputs[0])))
        try:
            tail = keras.Model(tensor, model.output)
        except ValueError as e:
            raise ValueError(f"On JAX, Grad-CAM differentiates model {model.name!r} from "
                             f"layer {layer!r} on, and the layers after it also use earlier "
                             f"tensors ({e}); use KERAS_BACKEND=tensorflow.") from None
        gradients = jax.grad(lambda a: score(tail(a, training=False)))(activations)
    as_array = lambda t: np.asarray(t[0], dtype=np.float64)  # noqa: E731
    return as_array(activations), as_array(gradients), as_array(outputs), class_index


def grad_cam(model, x, layer=None, class_index=None):
    """Grad-CAM of one preprocessed image.

    Args:
        model: a kcnn classifier (a functional `keras.Model`; auxiliary heads are
            ignored).
        x: float32 array (H, W, C) or (1, H, W, C): the image as the model takes it
            (`kcnn.explain.load_image`).
        layer: str or None. The layer to explain; defaults to `default_layer(model)`.
        class_index: int or None. The class to explain; defaults to the top one.

    Returns:
        A `GradCam`.

    Raises:
        ValueError: an unknown or non-4-D layer, a class index out of range, a model
            that does not output class scores.

    Example:
    >>> cam = grad_cam(model, x)                   # the top class, last conv stage
    >>> cam.map.shape, cam.layer, cam.class_index
    ((5, 5), 's4', 3)
    """
    model = inference_model(model)
    if len(model.output.shape) != 2:
        raise ValueError(f"Model {model.name!r} has output shape {tuple(model.output.shape)}: "
                         "Grad-CAM explains a classifier's (batch, classes) output.")
    num_classes = model.output.shape[-1]
    if class_index is not None and (isinstance(class_index, bool) or not isinstance(
            class_index, (int, np.integer)) or not 0 <= class_index < num_classes):
        raise ValueError(f"`class_index` must be an int in [0, {num_classes}) for model "
                         f"{model.name!r}; got {class_index!r}.")
    layer = find_layer(model, layer).name
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        x = x[None]
    expected = tuple(model.input_shape[1:])
    if x.ndim != 4 or len(x) != 1 or any(
            e is not None and e != d for e, d in zip(expected, x.shape[1:])):
        raise ValueError(f"`x` must be one preprocessed image {expected} (or a batch of one) "
                         f"for model {model.name!r}; got shape {x.shape}.")
    activations, gradients, outputs, class_index = score_gradients(
        model, layer, x, None if class_index is None else int(class_index))
    weights = gradients.mean(axis=(0, 1))
    cam = np.maximum((activations * weights).sum(axis=-1), 0.0)
    return GradCam(cam, layer, class_index, outputs, activations, weights)
