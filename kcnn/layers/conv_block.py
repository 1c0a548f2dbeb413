"""ConvBlock: convolution, optional batch normalization, activation."""

import keras

from kcnn.layers.batch_norm import BatchNorm

# torchvision's BatchNorm settings (momentum 0.1 in PyTorch's convention is 0.9 in Keras's).
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def _check_padding(padding):
    if padding in ("same", "valid"):
        return padding
    if isinstance(padding, int) and not isinstance(padding, bool) and padding >= 0:
        return padding
    raise ValueError(
        f"`padding` must be 'same', 'valid' or an int >= 0; got padding={padding!r}."
    )


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _same_is_explicit(padding, kernel_size, strides):
    """Whether `padding="same"` pads exactly `padding` zeros on every side.

    At stride 1 "same" pads `k - 1` zeros along an axis, `(k - 1) // 2` before and the
    rest after: for an odd kernel that is `(k - 1) / 2` on both sides, whatever the input
    size. (Strided, "same" depends on the size and is asymmetric where the size is even.)
    """
    return (isinstance(padding, int) and padding > 0 and _pair(strides) == (1, 1)
            and all(k % 2 == 1 and (k - 1) // 2 == padding for k in _pair(kernel_size)))


@keras.saving.register_keras_serializable(package="kcnn")
class ConvBlock(keras.layers.Layer):
    """Convolution + optional BatchNorm + activation: the unit most builders repeat.

    Args:
        filters: int. Number of output channels.
        kernel_size: int or tuple of 2 ints. Size of the convolution window.
        strides: int or tuple of 2 ints. Stride of the convolution. Defaults to 1.
        padding: `"same"`, `"valid"` or an int. An int pads that many zeros on every
            side before a valid convolution, as PyTorch's `padding=` (done by the
            convolution's own `"same"` where that is the same zeros: stride 1, odd kernel,
            `padding == (kernel_size - 1) // 2`; no separate padding op). Defaults to
            `"same"`.
        groups: int. Grouped convolution (AlexNet's two towers). Defaults to 1.
        batch_norm: bool. Adds BatchNormalization (`kcnn.layers.BatchNorm`) after the
            convolution. Defaults to `False`.
        activation: str or None. Activation after the (normalized) convolution.
            Defaults to `"relu"`.
        use_bias: bool or None. Bias in the convolution; `None` means "only without
            batch norm", as the papers and torchvision do. Defaults to `None`.
        kernel_initializer: initializer for the kernel. Defaults to `"he_normal"`.
        bn_epsilon: float. The BatchNorm epsilon. Defaults to 1e-5 (PyTorch's default;
            torchvision's GoogLeNet uses 1e-3).

    Example:
    >>> block = kcnn.layers.ConvBlock(64, 3, batch_norm=True)
    >>> block(keras.ops.zeros((1, 32, 32, 3))).shape
    (1, 32, 32, 64)
    """

    def __init__(self, filters, kernel_size, strides=1, padding="same", groups=1,
                 batch_norm=False, activation="relu", use_bias=None,
                 kernel_initializer="he_normal", bn_epsilon=BN_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = _check_padding(padding)
        self.groups = groups
        self.batch_norm = batch_norm
        self.activation = activation
        self.use_bias = (not batch_norm) if use_bias is None else use_bias
        self.bn_epsilon = bn_epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        if _same_is_explicit(padding, kernel_size, strides):
            conv_padding = "same"  # the same zeros, without a pad op (and its gradient)
        else:
            conv_padding = "valid" if isinstance(padding, int) else padding
        self.pad = (keras.layers.ZeroPadding2D(padding, name="pad")
                    if isinstance(padding, int) and padding > 0 and conv_padding == "valid"
                    else None)
        self.conv = keras.layers.Conv2D(
            filters, kernel_size, strides=strides, padding=conv_padding,
            groups=groups, use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer, name="conv")
        # BatchNormalization with the closed-form training gradient (same outputs, weights).
        self.bn = (BatchNorm(momentum=BN_MOMENTUM, epsilon=bn_epsilon, name="bn")
                   if batch_norm else None)
        self.act = keras.layers.Activation(activation, name="act") if activation else None

    def build(self, input_shape):
        shape = input_shape
        if self.pad is not None:
            self.pad.build(shape)
            shape = self.pad.compute_output_shape(shape)
        self.conv.build(shape)
        shape = self.conv.compute_output_shape(shape)
        if self.bn is not None:
            self.bn.build(shape)

    def call(self, inputs, training=None):
        x = inputs
        if self.pad is not None:
            x = self.pad(x)
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x, training=training)
        if self.act is not None:
            x = self.act(x)
        return x

    def compute_output_shape(self, input_shape):
        shape = input_shape
        if self.pad is not None:
            shape = self.pad.compute_output_shape(shape)
        return self.conv.compute_output_shape(shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "groups": self.groups,
            "batch_norm": self.batch_norm,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bn_epsilon": self.bn_epsilon,
        })
        return config
