"""ResidualBlock: basic and bottleneck residual units (He et al., 2016)."""

import keras
from keras import ops

from kcnn.layers.conv_block import ConvBlock

KINDS = ("basic", "bottleneck")
SHORTCUTS = ("projection", "zero_pad", "identity", False)


def _conv3x3_padding(strides):
    # "same" pads asymmetrically when strided; PyTorch's explicit padding of 1 does not.
    return "same" if strides == 1 else 1


@keras.saving.register_keras_serializable(package="kcnn")
class ResidualBlock(keras.layers.Layer):
    """Residual unit `relu(F(x) + shortcut(x))`, or `relu(F(x))` for the plain twins.

    `F` is two 3×3 convolutions ("basic") or 1×1 → 3×3 → 1×1 ("bottleneck", output
    `expansion * filters` channels), each followed by BatchNorm, with ReLU between.
    Where the shape is unchanged the shortcut is the identity; where it changes
    (stride or channels), `shortcut` chooses how to match it:

    - `"projection"`: a 1×1 strided convolution + BatchNorm (the paper's option B);
    - `"zero_pad"`: subsample by the stride and pad the extra channels with zeros
      (option A, parameter-free, the CIFAR ResNets);
    - `"identity"`: identity only; a shape change is an error;
    - `False`: no shortcut at all (the plain networks of He et al. Fig. 6).

    Args:
        filters: int. Filters of the 3×3 convolutions (the block's output channels are
            `filters` for "basic", `expansion * filters` for "bottleneck").
        kind: "basic" or "bottleneck". Defaults to `"basic"`.
        strides: int. Stride of the block. Defaults to 1.
        shortcut: one of "projection", "zero_pad", "identity" or False.
            Defaults to `"projection"`.
        stride_in_1x1: bool. Bottleneck only: stride on the first 1×1 (ResNet v1, the
            paper) instead of on the 3×3 (v1.5, torchvision). Defaults to `False`.
        expansion: int. Bottleneck output width factor. Defaults to 4.

    Example:
    >>> block = kcnn.layers.ResidualBlock(64, kind="bottleneck")
    >>> block(keras.ops.zeros((1, 56, 56, 64))).shape
    (1, 56, 56, 256)
    """

    def __init__(self, filters, kind="basic", strides=1, shortcut="projection",
                 stride_in_1x1=False, expansion=4, **kwargs):
        super().__init__(**kwargs)
        if kind not in KINDS:
            raise ValueError(f"`kind` must be 'basic' or 'bottleneck'; got kind={kind!r}.")
        if shortcut not in SHORTCUTS:
            raise ValueError(
                "`shortcut` must be one of 'projection', 'zero_pad', 'identity' or False; "
                f"got shortcut={shortcut!r}.")
        if not isinstance(strides, int) or isinstance(strides, bool) or strides < 1:
            raise ValueError(f"`strides` must be an int >= 1; got strides={strides!r}.")
        self.filters = filters
        self.kind = kind
        self.strides = strides
        self.shortcut = shortcut
        self.stride_in_1x1 = stride_in_1x1
        self.expansion = expansion
        self.out_channels = filters * expansion if kind == "bottleneck" else filters

        if kind == "basic":
            self.residual = [
                ConvBlock(filters, 3, strides=strides, padding=_conv3x3_padding(strides),
                          batch_norm=True, name="conv1"),
                ConvBlock(filters, 3, batch_norm=True, activation=None, name="conv2"),
            ]
        else:
            s1, s3 = (strides, 1) if stride_in_1x1 else (1, strides)
            self.residual = [
                ConvBlock(filters, 1, strides=s1, padding="valid", batch_norm=True,
                          name="conv1"),
                ConvBlock(filters, 3, strides=s3, padding=_conv3x3_padding(s3),
                          batch_norm=True, name="conv2"),
                ConvBlock(self.out_channels, 1, padding="valid", batch_norm=True,
                          activation=None, name="conv3"),
            ]
        self.add = keras.layers.Add(name="add") if shortcut is not False else None
        self.relu = keras.layers.ReLU(name="relu")
        self.projection = None  # created in build() when the shape changes

    def _shape_changes(self, input_shape):
        return self.strides != 1 or input_shape[-1] != self.out_channels

    def build(self, input_shape):
        shape = input_shape
        for layer in self.residual:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        if self.shortcut is False or not self._shape_changes(input_shape):
            return
        if self.shortcut == "identity":
            raise ValueError(
                f"ResidualBlock {self.name!r}: shortcut='identity' needs an unchanged shape, "
                f"but strides={self.strides} and channels {input_shape[-1]} -> "
                f"{self.out_channels}; use 'projection' or 'zero_pad'.")
        if self.shortcut == "zero_pad" and input_shape[-1] > self.out_channels:
            raise ValueError(
                f"ResidualBlock {self.name!r}: shortcut='zero_pad' cannot reduce channels "
                f"{input_shape[-1]} -> {self.out_channels}; use 'projection'.")
        if self.shortcut == "projection":
            self.projection = ConvBlock(self.out_channels, 1, strides=self.strides,
                                        padding="valid", batch_norm=True, activation=None,
                                        name="projection")
            self.projection.build(input_shape)

    def _shortcut(self, inputs, training):
        if not self._shape_changes(inputs.shape):
            return inputs
        if self.projection is not None:
            return self.projection(inputs, training=training)
        x = inputs[:, ::self.strides, ::self.strides, :]  # option A: subsample ...
        extra = self.out_channels - inputs.shape[-1]        # ... and pad with zeros
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra]])

    def call(self, inputs, training=None):
        x = inputs
        for layer in self.residual:
            x = layer(x, training=training)
        if self.add is not None:
            x = self.add([x, self._shortcut(inputs, training)])
        return self.relu(x)

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for layer in self.residual:
            shape = layer.compute_output_shape(shape)
        return shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kind": self.kind,
            "strides": self.strides,
            "shortcut": self.shortcut,
            "stride_in_1x1": self.stride_in_1x1,
            "expansion": self.expansion,
        })
        return config
