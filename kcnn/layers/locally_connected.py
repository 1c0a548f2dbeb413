"""LocallyConnected2D: a convolution with unshared weights (Keras 3 removed it)."""

import keras
from keras import ops


def _axis_geometry(size, kernel, stride, padding):
    """(output size, zeros before, zeros after) on one axis, as Conv2D computes them.

    Written here rather than imported from `kcnn.analysis`: layers depend on nothing
    above them. `kcnn.analysis.conv_output_size` gives the same sizes (tested).
    """
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        return out, total // 2, total - total // 2
    return (size - kernel) // stride + 1, 0, 0


def _pair(value, arg):
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
        raise ValueError(f"`{arg}` must be an int >= 1 or a pair of them; got {arg}={value!r}.")
    return values


@keras.saving.register_keras_serializable(package="kcnn")
class LocallyConnected2D(keras.layers.Layer):
    """Locally connected 2-D layer: one kernel per output position.

    Like `Conv2D`, each output unit sees a `kernel_size` window of all input channels,
    but no weights are shared between positions (as in DeepFace, Taigman et al. 2014, and
    Keras 2's layer of the same name). The input's height and width must be known.
    Parameters: `out_h · out_w · (kh · kw · C_in + 1) · filters` (bias per position).

    It is computed by gathering the `kh · kw` shifted, strided views of the input into
    patches of shape `(out_h, out_w, kh·kw·C_in)` and contracting each position's patch
    with its own kernel (`einsum`), in `keras.ops` only.

    Args:
        filters: int. Number of output channels.
        kernel_size: int or pair of ints. Window size.
        strides: int or pair of ints. Stride. Defaults to 1.
        padding: `"valid"` or `"same"` (zeros as `Conv2D`'s). Defaults to `"valid"`.
        activation: activation name or callable, or None. Defaults to `None`.
        use_bias: bool. One bias per output position and filter. Defaults to `True`.
        kernel_initializer: initializer of the kernel, shape
            `(out_h, out_w, kh·kw·C_in, filters)`. Defaults to `"glorot_uniform"`.
        bias_initializer: initializer of the bias, shape `(out_h, out_w, filters)`.
            Defaults to `"zeros"`.
        kernel_regularizer: regularizer of the kernel, or None.
        bias_regularizer: regularizer of the bias, or None.

    Example:
    >>> layer = kcnn.layers.LocallyConnected2D(8, 3)
    >>> layer(keras.ops.zeros((1, 10, 10, 2))).shape
    (1, 8, 8, 8)
    >>> layer.count_params()  # 8·8 positions × (3·3·2 + 1) × 8 filters
    9728
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(filters, bool) or not isinstance(filters, int) or filters < 1:
            raise ValueError(f"`filters` must be an int >= 1; got filters={filters!r}.")
        if padding not in ("valid", "same"):
            raise ValueError(f"`padding` must be 'valid' or 'same'; got padding={padding!r}.")
        self.filters = filters
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = padding
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def _geometry(self, input_shape):
        """Output size and zeros added before the first pixel, per axis."""
        height, width = input_shape[1], input_shape[2]
        if height is None or width is None:
            raise ValueError(
                f"LocallyConnected2D needs a known input height and width (one kernel per "
                f"position); got input shape {tuple(input_shape)!r}."
            )
        axes = [_axis_geometry(n, k, s, self.padding)
                for n, k, s in zip((height, width), self.kernel_size, self.strides)]
        if min(out for out, _, _ in axes) < 1:
            raise ValueError(
                f"LocallyConnected2D: kernel_size={self.kernel_size} does not fit the input "
                f"shape {tuple(input_shape)!r} with padding='valid'."
            )
        return tuple(a[0] for a in axes), [a[1:] for a in axes]

    def build(self, input_shape):
        (out_h, out_w), _ = self._geometry(input_shape)
        kh, kw = self.kernel_size
        self.kernel = self.add_weight(
            shape=(out_h, out_w, kh * kw * input_shape[-1], self.filters), name="kernel",
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer)
        self.bias = (self.add_weight(
            shape=(out_h, out_w, self.filters), name="bias",
            initializer=self.bias_initializer, regularizer=self.bias_regularizer)
            if self.use_bias else None)

    def call(self, inputs):
        (out_h, out_w), pads = self._geometry(inputs.shape)
        x = inputs
        if self.padding == "same":
            x = ops.pad(x, [[0, 0], list(pads[0]), list(pads[1]), [0, 0]])
        kh, kw = self.kernel_size
        sh, sw = self.strides
        # Patch element (i, j, c) of output position (y, x) is input (y·sh + i, x·sw + j, c).
        views = [x[:, i:i + sh * (out_h - 1) + 1:sh, j:j + sw * (out_w - 1) + 1:sw, :]
                 for i in range(kh) for j in range(kw)]
        patches = ops.stack(views, axis=3)  # (batch, out_h, out_w, kh·kw, C)
        patches = ops.reshape(patches, (-1, out_h, out_w, kh * kw * inputs.shape[-1]))
        y = ops.einsum("bhwk,hwkf->bhwf", patches, ops.cast(self.kernel, patches.dtype))
        if self.bias is not None:
            y = y + ops.cast(self.bias, y.dtype)
        return self.activation(y) if self.activation is not None else y

    def compute_output_shape(self, input_shape):
        (out_h, out_w), _ = self._geometry(input_shape)
        return (input_shape[0], out_h, out_w, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
        })
        return config
