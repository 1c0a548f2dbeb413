"""Dense heads as convolutions: `to_fully_convolutional` (OverFeat; Long et al., 2015)."""

import keras

# Layers allowed between Flatten and the output; they act on the last axis only.
_PASS_THROUGH = (keras.layers.Dropout, keras.layers.Activation, keras.layers.ReLU,
                 keras.layers.LeakyReLU, keras.layers.ELU)


def _head_chain(model):
    """The layers from `Flatten` to the output, in order; raises ValueError otherwise."""
    if len(model.outputs) != 1 or len(model.inputs) != 1:
        raise ValueError(
            f"to_fully_convolutional needs a model with one input and one output; model "
            f"{model.name!r} has {len(model.inputs)} inputs and {len(model.outputs)} outputs."
        )
    chain, tensor = [], model.outputs[0]
    while True:
        layer = tensor._keras_history.operation
        if layer is None or isinstance(layer, keras.layers.InputLayer):
            raise ValueError(
                f"to_fully_convolutional needs a head Flatten → Dense …; model "
                f"{model.name!r} has no Flatten layer on the path to its output."
            )
        node = layer._inbound_nodes[tensor._keras_history.node_index]
        if isinstance(layer, keras.layers.Flatten):
            return layer, node.input_tensors[0], chain[::-1]
        if not isinstance(layer, (keras.layers.Dense, *_PASS_THROUGH)) or (
                isinstance(layer, keras.layers.Softmax) and layer.axis != -1):
            raise ValueError(
                f"to_fully_convolutional converts heads of the form Flatten → Dense, "
                f"Dropout or activation layers; model {model.name!r} has "
                f"{type(layer).__name__} {layer.name!r} where that head should be."
            )
        if len(node.input_tensors) != 1:
            raise ValueError(f"Layer {layer.name!r} of the head has several inputs.")
        chain.append(layer)
        tensor = node.input_tensors[0]


def to_fully_convolutional(model, *, name=None):
    """Rewrites a Flatten → Dense… head as convolutions, keeping the trained weights.

    The first dense layer becomes a convolution whose kernel covers the whole flattened
    feature map (e.g. 7×7 for VGG at 224×224), later dense layers become 1×1
    convolutions; dropout and activation layers are kept. The new model takes inputs of
    any size at least the original's and returns a map of predictions: on the original
    size a 1×1 map equal to the original output; on a larger image one prediction per
    window, the windows `jump` pixels apart (the stride of the last feature map, 32 for
    VGG), each equal to the original head on that window of the feature map — and to the
    original model on that window of the image when the body has no zero padding (as
    LeNet-5; with "same" padding, cells away from the borders see real pixels where the
    original saw zeros). The new model does not share weights with `model`.

    Args:
        model: a functional `keras.Model` with one input, one output and a head made of
            `Flatten`, then `Dense`, `Dropout` and activation layers (lenet5, alexnet,
            alexnet_paper, the VGG family). Channels last.
        name: str or None. Name of the new model. Defaults to `model.name + "_conv"`.

    Returns:
        A `keras.Model` with input shape `(None, None, channels)` and output shape
        `(batch, rows, cols, classes)`.

    Raises:
        ValueError: if the model has no such head or its feature map size is unknown.

    Example:
    >>> conv = to_fully_convolutional(kcnn.models.lenet5())
    >>> tuple(conv(np.zeros((1, 40, 40, 1), "float32")).shape)
    (1, 3, 3, 10)
    """
    if not isinstance(model, keras.Model) or not hasattr(model, "_nodes_by_depth"):
        raise ValueError(
            f"to_fully_convolutional needs a functional keras.Model; got "
            f"{type(model).__name__}."
        )
    flatten, features, head = _head_chain(model)
    if flatten.data_format == "channels_first" or len(features.shape) != 4 \
            or None in features.shape[1:]:
        raise ValueError(
            f"to_fully_convolutional needs a known channels-last feature map before "
            f"Flatten; model {model.name!r} has {tuple(features.shape)!r}."
        )
    _, height, width, channels = features.shape
    body = keras.Model(model.inputs[0], features)
    # A fresh copy of the body (new layers, same weights) whose input's height and width
    # are unset, so that it takes images of any size.
    config = body.get_config()
    for layer_config in config["layers"]:
        if layer_config["class_name"] == "InputLayer":
            shape = layer_config["config"]["batch_shape"]
            layer_config["config"]["batch_shape"] = (shape[0], None, None, shape[-1])
    clone = keras.Model.from_config(config)
    inputs = clone.inputs[0]
    for target, source in zip(clone.weights, body.weights):  # same layers, same order
        target.assign(source)
    x = clone.outputs[0]
    window = (height, width)  # the first dense layer sees the whole map
    for layer in head:
        if not isinstance(layer, keras.layers.Dense):
            x = type(layer).from_config(layer.get_config())(x)
            continue
        # Zeros first (cheap), then the dense weights: Flatten orders (row, col, channel),
        # which is exactly the order of a (rows, cols, channels, units) kernel.
        conv = keras.layers.Conv2D(
            layer.units, window, activation=layer.activation, use_bias=layer.use_bias,
            kernel_initializer="zeros", dtype=layer.dtype_policy, name=layer.name)
        x = conv(x)
        conv.kernel.assign(keras.ops.reshape(layer.kernel, conv.kernel.shape))
        if layer.use_bias:
            conv.bias.assign(layer.bias)
        window = (1, 1)
    return keras.Model(inputs, x, name=name or f"{model.name}_conv")

