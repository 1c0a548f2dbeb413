"""NiNBlock: the mlpconv unit of Network in Network (Lin et al., 2014)."""

import keras

from kcnn.layers.conv_block import ConvBlock


@keras.saving.register_keras_serializable(package="kcnn")
class NiNBlock(keras.layers.Layer):
    """mlpconv: a k×k convolution followed by two 1×1 convolutions, each with ReLU.

    The two 1×1 convolutions are a small multilayer perceptron shared across
    positions ("cccp" layers in the authors' Caffe model).

    Args:
        filters: tuple of 3 ints. Filters of the k×k and of the two 1×1 convolutions.
        kernel_size: int. k. Defaults to 3.
        strides: int. Stride of the k×k convolution. Defaults to 1.
        padding: "same", "valid" or an int, for the k×k convolution. Defaults to "same".
        batch_norm: bool. BatchNorm after each convolution (not in the paper).
            Defaults to `False`.

    Example:
    >>> block = kcnn.layers.NiNBlock((192, 160, 96), kernel_size=5)
    >>> block(keras.ops.zeros((1, 32, 32, 3))).shape
    (1, 32, 32, 96)
    """

    def __init__(self, filters, kernel_size=3, strides=1, padding="same", batch_norm=False,
                 **kwargs):
        super().__init__(**kwargs)
        if (not isinstance(filters, (tuple, list)) or len(filters) != 3
                or not all(isinstance(f, int) and f >= 1 for f in filters)):
            raise ValueError(f"`filters` must be 3 ints >= 1; got filters={filters!r}.")
        self.filters = tuple(filters)
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding
        self.batch_norm = batch_norm
        self.convs = [
            ConvBlock(filters[0], kernel_size, strides=strides, padding=padding,
                      batch_norm=batch_norm, name="conv"),
            ConvBlock(filters[1], 1, batch_norm=batch_norm, name="mlp1"),
            ConvBlock(filters[2], 1, batch_norm=batch_norm, name="mlp2"),
        ]

    def build(self, input_shape):
        shape = input_shape
        for conv in self.convs:
            conv.build(shape)
            shape = conv.compute_output_shape(shape)

    def call(self, inputs, training=None):
        x = inputs
        for conv in self.convs:
            x = conv(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for conv in self.convs:
            shape = conv.compute_output_shape(shape)
        return shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "batch_norm": self.batch_norm,
        })
        return config
