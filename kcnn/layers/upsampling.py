"""Learned upsampling: a bilinear initializer for `Conv2DTranspose` (Long et al., 2015).

A transposed convolution with stride `f` "fills with zeros, then blurs": it spreads each
input value over an output grid `f` times finer and sums the overlapping kernels. With the
kernel below (a separable tent of size `2f − f mod 2`, one per channel, no mixing between
channels) and `padding="same"`, an untrained layer is exactly bilinear upsampling with
half-pixel centres, as `UpSampling2D(interpolation="bilinear")`, away from the borders
(there the transposed convolution sees zeros where resizing repeats the edge). Training
may then change the kernel.
"""

import numpy as np

import keras


def bilinear_kernel_size(factor):
    """Kernel size of a `factor`× bilinear upsampler: `2·factor − factor mod 2`."""
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise ValueError(f"`factor` must be an int >= 1; got factor={factor!r}.")
    return 2 * factor - factor % 2


def _tent(size):
    factor = (size + 1) // 2
    centre = factor - 1 if size % 2 == 1 else factor - 0.5
    return 1 - np.abs(np.arange(size) - centre) / factor


@keras.saving.register_keras_serializable(package="kcnn")
class BilinearUpsampling(keras.initializers.Initializer):
    """Initializes a `Conv2DTranspose` kernel to bilinear upsampling.

    The kernel has shape `(kh, kw, channels, channels)` (Keras's transposed-convolution
    layout: output channels before input channels); channel `c` is upsampled from input
    channel `c` alone with the outer product of two tents (FCN's `upsample_filt`). For
    upsampling by `f`, use `kernel_size=2f − f mod 2` (`bilinear_kernel_size(f)`),
    `strides=f` and `padding="same"`, or use `bilinear_upsampler`.

    Example:
    >>> layer = keras.layers.Conv2DTranspose(
    ...     3, 4, strides=2, padding="same", use_bias=False,
    ...     kernel_initializer=kcnn.layers.BilinearUpsampling())
    >>> layer(keras.ops.ones((1, 4, 4, 3))).shape
    (1, 8, 8, 3)
    """

    def __call__(self, shape, dtype=None):
        if len(shape) != 4 or shape[2] != shape[3]:
            raise ValueError(
                "BilinearUpsampling initializes a Conv2DTranspose kernel of shape "
                "(kh, kw, channels, channels) (as many filters as input channels); "
                f"got shape={tuple(shape)!r}."
            )
        kh, kw, channels, _ = shape
        weights = np.zeros(shape, dtype="float32")
        weights[:, :, np.arange(channels), np.arange(channels)] = np.outer(
            _tent(kh), _tent(kw))[:, :, None]
        return keras.ops.convert_to_tensor(weights, dtype=dtype or "float32")

    def get_config(self):
        return {}


def bilinear_upsampler(channels, factor, *, trainable=True, name=None):
    """A `Conv2DTranspose` that starts as `factor`× bilinear upsampling.

    Args:
        channels: int. Channels in (and out).
        factor: int. Upsampling factor (the stride).
        trainable: bool. Whether training may change the kernel. Defaults to `True`.
        name: str or None. Layer name.

    Returns:
        A `keras.layers.Conv2DTranspose` (kernel `2·factor − factor mod 2`, stride `factor`,
        `padding="same"`, no bias) with a `BilinearUpsampling` kernel.
    """
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ValueError(f"`channels` must be an int >= 1; got channels={channels!r}.")
    return keras.layers.Conv2DTranspose(
        channels, bilinear_kernel_size(factor), strides=factor, padding="same",
        use_bias=False, kernel_initializer=BilinearUpsampling(), trainable=trainable,
        name=name)
