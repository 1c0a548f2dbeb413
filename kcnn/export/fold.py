"""`fold_batch_norm`: BatchNorm folded into the preceding convolution, for inference graphs.

In inference mode BatchNormalization is a per-channel affine map,
`y = γ (x − μ) / √(σ² + ε) + β`, so after a convolution `x = W∗u + b` it can be absorbed:
`W' = W · s`, `b' = (b − μ) · s + β` with `s = γ / √(σ² + ε)` per output channel. The
folded model computes the same function with one convolution instead of a convolution,
a multiply and an add per element.
"""

import keras
import numpy as np

from kcnn.layers.conv_block import ConvBlock

_FOLDABLE_CONV = (keras.layers.Conv2D,)


@keras.saving.register_keras_serializable(package="kcnn")
class FoldedBatchNorm(keras.layers.Layer):
    """The identity: stands where a BatchNormalization was folded into its convolution.

    It takes BatchNormalization's call arguments (`training`, `mask`), so the graph
    around it is unchanged.
    """

    def call(self, inputs, training=None, mask=None):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


def fold_batch_norm(model):
    """A new model equal to `model` in inference mode, with BatchNorm folded into convolutions.

    Folded are every `kcnn.layers.ConvBlock` with `batch_norm=True` (also inside composite
    layers such as `ResidualBlock` and `InceptionBlock`), and, in the model's own graph,
    every BatchNormalization (channels-last) whose only input is a `Conv2D` with no
    activation whose output goes nowhere else (keras.applications' ResNets, for
    example). Every other layer is cloned with its weights. The input model is unchanged.

    The folded model is for inference and export (`training=True` would no longer
    normalize by batch statistics). Its composite layers' configs still describe the
    unfolded blocks, so save it as a SavedModel, not as a `.keras` file.

    Args:
        model: a built functional or Sequential `keras.Model`.

    Returns:
        A new `keras.Model` with the same inputs, outputs and layer names.

    Raises:
        ValueError: `model` is not a built functional or Sequential model.

    Example:
    >>> model = kcnn.models.resnet20()
    >>> folded = kcnn.export.fold.fold_batch_norm(model)
    >>> x = np.zeros((1, 32, 32, 3), "float32")
    >>> np.allclose(model(x), folded(x), atol=1e-5)
    True
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"fold_batch_norm() expects a keras.Model; got "
                         f"{type(model).__name__}.")
    if not model.built or not model.layers:
        raise ValueError(f"fold_batch_norm() needs a built model with layers; {model.name!r} "
                         f"is not built.")
    pairs = _graph_pairs(model)  # {id(conv): bn}
    folded_bns = {id(bn) for bn in pairs.values()}

    def clone(layer):
        if id(layer) in folded_bns:
            return FoldedBatchNorm(name=layer.name)
        if id(layer) in pairs:
            return type(layer).from_config({**layer.get_config(), "use_bias": True})
        new = type(layer).from_config(layer.get_config())
        if any(isinstance(block, ConvBlock) and block.bn is not None
               for block in layer._flatten_layers(include_self=True, recursive=True)):
            # Built first: composite layers may create ConvBlocks in build().
            new.build(layer.input.shape)
            for block in new._flatten_layers(include_self=True, recursive=True):
                if isinstance(block, ConvBlock) and block.bn is not None:
                    _drop_batch_norm(block)
        return new

    try:
        folded = keras.models.clone_model(model, clone_function=clone)
    except ValueError as error:
        raise ValueError(f"fold_batch_norm() needs a functional or Sequential model; "
                         f"{model.name!r} is a {type(model).__name__} ({error})") from None
    _copy_weights(model, folded, pairs)
    return folded


def _graph_pairs(model):
    """{id(conv): bn} for the Conv2D → BatchNormalization pairs of `model`'s own graph."""
    pairs = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        if len(layer._inbound_nodes) != 1 or layer.axis not in (-1, len(layer.input.shape) - 1):
            continue
        parents = layer._inbound_nodes[0].parent_nodes
        if len(parents) != 1:
            continue
        conv = parents[0].operation
        if (isinstance(conv, _FOLDABLE_CONV) and conv.data_format == "channels_last"
                and keras.activations.serialize(conv.activation) == "linear"
                and len(conv._inbound_nodes) == 1 and len(conv._outbound_nodes) == 1):
            pairs[id(conv)] = layer
    return pairs


def _drop_batch_norm(block):
    """Turns a built ConvBlock(batch_norm=True) into one with a biased convolution."""
    old = block.conv
    conv = keras.layers.Conv2D.from_config({**old.get_config(), "use_bias": True})
    conv.build((None, None, None, old.kernel.shape[2] * old.groups))
    block._tracker.unlock()  # a built layer's sublayers are locked against changes
    block._tracker.untrack(old)
    block._tracker.untrack(block.bn)
    block.conv = conv
    block.bn = None
    block._tracker.lock()
    block.batch_norm = False
    block.use_bias = True


def _affine(bn):
    """(scale, shift) per channel of an inference-mode BatchNormalization, in float64."""
    mean = np.asarray(bn.moving_mean, np.float64)
    var = np.asarray(bn.moving_variance, np.float64)
    gamma = np.asarray(bn.gamma, np.float64) if bn.scale else np.ones_like(mean)
    beta = np.asarray(bn.beta, np.float64) if bn.center else np.zeros_like(mean)
    scale = gamma / np.sqrt(var + bn.epsilon)
    return scale, beta - mean * scale


def _tree(layer, prefix=""):
    """{"a/b/c": sublayer} of every layer nested in `layer`, keyed by the path of names."""
    found = {}
    for sub in layer._flatten_layers(include_self=False, recursive=False):
        path = f"{prefix}/{sub.name}"
        if path in found:
            raise RuntimeError(f"fold_batch_norm: two layers are named {path!r}.")
        found[path] = sub
        found.update(_tree(sub, path))
    return found


def _copy_weights(model, folded, graph_pairs):
    """Writes the folded kernel and bias of each pair; copies every other weight by path."""
    new_layers = _tree(folded)
    pairs = [(block.conv, block.bn, new_layers[path].conv)
             for path, block in _tree(model).items()
             if isinstance(block, ConvBlock) and block.bn is not None]
    pairs += [(layer, graph_pairs[id(layer)], folded.get_layer(layer.name))
              for layer in model.layers if id(layer) in graph_pairs]
    written = set()
    for conv, bn, new_conv in pairs:
        scale, shift = _affine(bn)
        kernel = np.asarray(conv.kernel, np.float64)
        bias = np.asarray(conv.bias, np.float64) if conv.use_bias else 0.0
        new_conv.kernel.assign((kernel * scale).astype(new_conv.kernel.dtype))
        new_conv.bias.assign((bias * scale + shift).astype(new_conv.bias.dtype))
        written.update({id(new_conv.kernel), id(new_conv.bias)})
    sources = {v.path: v for v in model.weights}
    for target in folded.weights:
        if id(target) in written:
            continue
        source = sources.get(target.path)
        if source is None or tuple(source.shape) != tuple(target.shape):
            raise RuntimeError(f"fold_batch_norm: no weight {target.path!r} of shape "
                               f"{tuple(target.shape)} in {model.name!r} to copy.")
        target.assign(source)
