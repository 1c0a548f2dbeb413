"""What each known layer or op does to MACs and receptive fields.

A rule takes `(operation, node, in_fields)` and returns `(macs, out_field)`:
`macs` is the multiply–accumulates for one image (`None`: not counted) and
`out_field` the field of every output (`None`: not known). Layers without a rule
are looked inside by `_graph` (their `call` is traced); ops without a rule are
uncounted with unknown fields.
"""

import math

import keras

from kcnn.analysis._fields import Unknown, union, window
from kcnn.analysis.arithmetic import same_padding

L = keras.layers


def _prod(values):
    if any(v is None for v in values):
        return None
    return math.prod(values)


def _channels_last(layer):
    return getattr(layer, "data_format", "channels_last") in (None, "channels_last")


def _in_shape(node):
    return tuple(node.input_tensors[0].shape)


def _out_shape(node):
    return tuple(node.outputs[0].shape)


def _spatial_window(layer, node, field, kernel, strides, padding, dilation=(1, 1)):
    shape = _in_shape(node)
    if field is None or len(shape) != 4 or not _channels_last(layer):
        return None
    if padding == "valid":
        pads = (0, 0)
    elif padding == "same":
        pads = tuple(_same_pad_before(shape[1 + a], kernel[a], strides[a], dilation[a])
                     for a in range(2))
    else:
        return None
    return window(field, kernel, strides, pads, dilation)


def _same_pad_before(size, kernel, stride, dilation):
    """Zeros that "same" puts before the first pixel; an `Unknown` if they depend on an
    unknown `size` (only its remainder modulo the stride matters)."""
    if size is not None:
        return same_padding(size, kernel, stride, dilation)[0]
    pads = {same_padding(stride + r, kernel, stride, dilation)[0] for r in range(stride)}
    return pads.pop() if len(pads) == 1 else Unknown()


def _pointwise(op, node, fields):
    """Same positions in, same positions out (activations, normalization over channels)."""
    if len(fields) != 1:
        return 0, None
    if _spatial(_in_shape(node)) != _spatial(_out_shape(node)):
        return 0, None
    return 0, fields[0]


def _spatial(shape):
    return tuple(shape[1:3]) if len(shape) == 4 else (1, 1) if len(shape) == 2 else None


def _merge(op, node, fields):
    """Elementwise merges and channel concatenation: union of the aligned fields."""
    out = _spatial(_out_shape(node))
    if out is None or any(_spatial(tuple(t.shape)) != out for t in node.input_tensors):
        return 0, None
    return 0, union(fields)


def _concatenate(op, node, fields):
    rank = len(_out_shape(node))
    if op.axis not in (-1, rank - 1):
        return 0, None
    return _merge(op, node, fields)


def _conv(op, node, fields):
    in_shape, out_shape = _in_shape(node), _out_shape(node)
    channels = in_shape[-1] if _channels_last(op) else in_shape[1]
    spatial = out_shape[1:-1] if _channels_last(op) else out_shape[2:]
    macs = _prod([*spatial, op.filters, *op.kernel_size, channels])
    macs = None if macs is None else macs // op.groups
    field = None
    if len(op.kernel_size) == 2:
        field = _spatial_window(op, node, fields[0], op.kernel_size, op.strides, op.padding,
                                op.dilation_rate)
    return macs, field


def _depthwise(op, node, fields):
    in_shape, out_shape = _in_shape(node), _out_shape(node)
    channels = in_shape[-1] if _channels_last(op) else in_shape[1]
    spatial = out_shape[1:-1] if _channels_last(op) else out_shape[2:]
    macs = _prod([*spatial, channels, op.depth_multiplier, *op.kernel_size])
    field = _spatial_window(op, node, fields[0], op.kernel_size, op.strides, op.padding,
                            op.dilation_rate)
    return macs, field


def _separable(op, node, fields):
    depthwise, field = _depthwise(op, node, fields)  # same depthwise part and window
    in_shape, out_shape = _in_shape(node), _out_shape(node)
    channels = in_shape[-1] if _channels_last(op) else in_shape[1]
    spatial = out_shape[1:-1] if _channels_last(op) else out_shape[2:]
    pointwise = _prod([*spatial, channels, op.depth_multiplier, op.filters])
    macs = None if depthwise is None or pointwise is None else depthwise + pointwise
    return macs, field


def _transpose(op, node, fields):
    # Every input value is multiplied by every kernel tap of every filter.
    in_shape = _in_shape(node)
    channels = in_shape[-1] if _channels_last(op) else in_shape[1]
    spatial = in_shape[1:-1] if _channels_last(op) else in_shape[2:]
    # Upsampling: units see different numbers of inputs, so no single field exists.
    return _prod([*spatial, channels, *op.kernel_size, op.filters]), None


def _dense(op, node, fields):
    in_shape, out_shape = _in_shape(node), _out_shape(node)
    macs = _prod([*out_shape[1:-1], in_shape[-1], op.units])
    return macs, _pointwise(op, node, fields)[1]


def _pooling(op, node, fields):
    if len(op.pool_size) != 2:
        return 0, None
    return 0, _spatial_window(op, node, fields[0], op.pool_size, op.strides, op.padding)


def _whole_map(op, node, fields):
    """Flatten and global pooling: one output unit that sees the whole map."""
    shape = _in_shape(node)
    if len(shape) == 2:
        return 0, fields[0]
    if len(shape) != 4 or not _channels_last(op) or None in shape[1:3]:
        return 0, None
    return 0, window(fields[0], shape[1:3], (1, 1), (0, 0))


def _zero_padding(op, node, fields):
    if len(op.padding) != 2 or not _channels_last(op):
        return 0, None
    before = (op.padding[0][0], op.padding[1][0])
    return 0, window(fields[0], (1, 1), (1, 1), before)


def _cropping(op, node, fields):
    if len(op.cropping) != 2 or not _channels_last(op):
        return 0, None
    before = (-op.cropping[0][0], -op.cropping[1][0])
    return 0, window(fields[0], (1, 1), (1, 1), before)


def _axis_is_channels(op, node, fields):
    axis = op.axis if isinstance(op.axis, (list, tuple)) else [op.axis]
    rank = len(_in_shape(node))
    if all(a in (-1, rank - 1) for a in axis):
        return _pointwise(op, node, fields)
    return 0, None


def _uncounted(op, node, fields):
    return None, None


def _not_spatial(op, node, fields):
    """Counted as 0 MACs, but positions are rearranged: the field is not known."""
    return 0, None


def _locally_connected(op, node, fields):
    in_shape, out_shape = _in_shape(node), _out_shape(node)
    macs = _prod([*out_shape[1:3], op.filters, *op.kernel_size, in_shape[-1]])
    return macs, _spatial_window(op, node, fields[0], op.kernel_size, op.strides, op.padding)


_POINTWISE_LAYERS = (
    L.Activation, L.ReLU, L.LeakyReLU, L.PReLU, L.ELU, L.Dropout, L.SpatialDropout1D,
    L.SpatialDropout2D, L.SpatialDropout3D, L.GaussianNoise, L.GaussianDropout,
    L.AlphaDropout, L.Rescaling, L.Identity, L.ActivityRegularization,
)

# Ordered: the first matching class wins.
LAYER_RULES = [
    ((L.Conv1D, L.Conv2D, L.Conv3D), _conv),
    ((L.DepthwiseConv1D, L.DepthwiseConv2D), _depthwise),
    ((L.SeparableConv1D, L.SeparableConv2D), _separable),
    ((L.Conv1DTranspose, L.Conv2DTranspose, L.Conv3DTranspose), _transpose),
    ((L.Dense,), _dense),
    ((L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D, L.AveragePooling1D,
      L.AveragePooling2D, L.AveragePooling3D), _pooling),
    ((L.GlobalAveragePooling2D, L.GlobalMaxPooling2D, L.Flatten), _whole_map),
    ((L.ZeroPadding2D,), _zero_padding),
    ((L.Cropping2D,), _cropping),
    ((L.Concatenate,), _concatenate),
    ((L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum), _merge),
    ((L.BatchNormalization, L.LayerNormalization, L.Softmax, L.Normalization,
      L.UnitNormalization), _axis_is_channels),
    (_POINTWISE_LAYERS, _pointwise),
    ((L.UpSampling2D, L.Resizing, L.Reshape, L.Permute, L.RepeatVector, L.GroupNormalization,
      L.GlobalAveragePooling1D, L.GlobalMaxPooling1D, L.GlobalAveragePooling3D,
      L.GlobalMaxPooling3D, L.ZeroPadding1D, L.ZeroPadding3D, L.Cropping1D, L.Cropping3D,
      L.UpSampling1D, L.UpSampling3D), _not_spatial),
    # Windows of different sizes (torchvision GoogLeNet's aux heads): no single field.
    (tuple(getattr(L, n) for n in ("AdaptiveAveragePooling2D", "AdaptiveMaxPooling2D")
           if hasattr(L, n)), _not_spatial),
]

# kcnn layers, matched by class name so that analysis imports no layer module it
# does not need (and keeps working while layers are added).
KCNN_RULES = {
    "LocallyConnected2D": _locally_connected,
    # Normalization across neighbouring channels at one position (AlexNet).
    "LocalResponseNormalization": _pointwise,
    # A fixed per-channel affine map (torchvision GoogLeNet's transform_input).
    "ChannelAffine": _pointwise,
}


# ---- keras.ops on symbolic tensors (inside composite layers or functional graphs) ----

_ELEMENTWISE_OPS = {
    "Add", "Subtract", "Multiply", "Divide", "TrueDivide", "FloorDivide", "Power", "Square",
    "Sqrt", "Rsqrt", "Abs", "Absolute", "Negative", "Exp", "Log", "Log1p", "Maximum",
    "Minimum", "Clip", "Where", "Cast", "Relu", "Relu6", "Sigmoid", "HardSigmoid", "Tanh",
    "Silu", "Gelu", "Elu", "Selu", "LeakyRelu", "Softplus", "Softsign", "Reciprocal",
    "Sign", "StopGradient", "ConvertToTensor", "Identity", "Round", "Floor", "Ceil",
}


def _get_item(op, node, fields):
    shape = _in_shape(node)
    key = node.arguments.args[1] if len(node.arguments.args) > 1 else None
    if len(shape) != 4 or key is None:
        return 0, None
    key = list(key) if isinstance(key, (tuple, list)) else [key]
    if key.count(Ellipsis) == 1:
        i = key.index(Ellipsis)
        key = key[:i] + [slice(None)] * (4 - len(key) + 1) + key[i + 1:]
    key += [slice(None)] * (4 - len(key))
    if len(key) != 4 or not all(isinstance(k, slice) for k in key):
        return 0, None
    starts, steps = [], []
    for a in (1, 2):
        if shape[a] is not None:
            start, _, step = key[a].indices(shape[a])
        else:  # unknown size: only a slice counted from the first pixel has a known start
            start, step = key[a].start or 0, 1 if key[a].step is None else key[a].step
            if not isinstance(start, int) or not isinstance(step, int) or start < 0:
                return 0, None
        if step <= 0:
            return 0, None
        starts.append(-start)
        steps.append(step)
    return 0, window(fields[0], (1, 1), tuple(steps), tuple(starts))


def _pad(op, node, fields):
    widths = op.pad_width
    if len(_in_shape(node)) != 4 or op.mode != "constant" or len(widths) != 4:
        return 0, None
    before = (widths[1][0], widths[2][0])
    return 0, window(fields[0], (1, 1), (1, 1), before)


def _reduce(op, node, fields):
    rank = len(_in_shape(node))
    axis = op.axis
    if axis is None:
        return 0, None
    axes = {a % rank for a in (axis if isinstance(axis, (list, tuple)) else [axis])}
    if axes.isdisjoint({1, 2}):
        return _pointwise(op, node, fields) if rank == 4 and op.keepdims else (0, None)
    if rank == 4 and {1, 2} <= axes and 0 not in axes:
        shape = _in_shape(node)
        if None in shape[1:3]:
            return 0, None
        return 0, window(fields[0], shape[1:3], (1, 1), (0, 0))
    return 0, None


def _matmul(op, node, fields):
    # x @ W over the last axis: a dense layer applied at every position.
    x = node.arguments.args[0]
    if not hasattr(x, "shape") or len(node.input_tensors) != 1 or x is not node.input_tensors[0]:
        return None, None
    macs = _prod([*_out_shape(node)[1:], x.shape[-1]])
    return macs, _pointwise(op, node, fields)[1]


def _op_elementwise(op, node, fields):
    if len(node.input_tensors) == 1:
        return _pointwise(op, node, fields)
    return _merge(op, node, fields)


def _op_concatenate(op, node, fields):
    rank = len(_out_shape(node))
    if op.axis not in (-1, rank - 1):
        return 0, None
    return _merge(op, node, fields)


def _op_softmax(op, node, fields):
    return _axis_is_channels(op, node, fields)


OP_RULES = {
    "GetItem": _get_item,
    "Pad": _pad,
    "Mean": _reduce,
    "Sum": _reduce,
    "Max": _reduce,
    "Min": _reduce,
    "Matmul": _matmul,
    "Concatenate": _op_concatenate,
    "Softmax": _op_softmax,
    "LogSoftmax": _op_softmax,
    **{name: _op_elementwise for name in _ELEMENTWISE_OPS},
}


def rule_for(op):
    """The rule of a layer or op, or `None` when it must be looked inside (or is unknown)."""
    if isinstance(op, L.Layer):
        for classes, rule in LAYER_RULES:
            if isinstance(op, classes):
                return rule
        for cls in type(op).__mro__:
            if cls.__name__ in KCNN_RULES and cls.__module__.startswith("kcnn."):
                return KCNN_RULES[cls.__name__]
        return None
    return OP_RULES.get(type(op).__name__, _uncounted)
