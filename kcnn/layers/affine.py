"""ChannelAffine: a fixed per-channel `x * scale + offset` (torchvision GoogLeNet's transform_input)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kcnn")
class ChannelAffine(keras.layers.Layer):
    """Multiplies each channel by a constant and adds another; no weights.

    torchvision's GoogLeNet with `transform_input=True` turns images normalized with the
    ImageNet mean and std into images normalized with mean 0.5 and std 0.5 (what its
    weights, ported from the original, expect): `scale = std / 0.5`,
    `offset = (mean - 0.5) / 0.5` per channel. Channels-last.

    Args:
        scale: list of floats, one per channel.
        offset: list of floats, one per channel.

    Example:
    >>> layer = kcnn.layers.ChannelAffine([2.0, 1.0, 0.5], [0.0, 1.0, 0.0])
    >>> keras.ops.convert_to_numpy(layer(keras.ops.ones((1, 1, 1, 3))))[0, 0, 0].tolist()
    [2.0, 2.0, 0.5]
    """

    def __init__(self, scale, offset, **kwargs):
        super().__init__(**kwargs)
        self.scale = [float(s) for s in scale]
        self.offset = [float(o) for o in offset]
        if len(self.scale) != len(self.offset) or not self.scale:
            raise ValueError(
                "`scale` and `offset` must be lists of the same length >= 1 (one value per "
                f"channel); got {len(self.scale)} and {len(self.offset)} values.")

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != len(self.scale):
            raise ValueError(
                f"ChannelAffine {self.name!r} has {len(self.scale)} channels' constants; "
                f"got input shape {tuple(input_shape)}.")

    def call(self, inputs):
        scale = ops.convert_to_tensor(self.scale, dtype=inputs.dtype)
        offset = ops.convert_to_tensor(self.offset, dtype=inputs.dtype)
        return inputs * scale + offset

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale, "offset": self.offset})
        return config
