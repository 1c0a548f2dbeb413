"""The preprocessing contract (`kcnn.preprocessing.Preprocessing`) as TensorFlow ops.

`eval_transform` is the contract exactly; training adds augmentation around it
(`kcnn.data.pipeline`); the exporter traces `resize` and `normalize_pixels` into the
SavedModel's graph. The contract itself, and `preprocessing.json`, are defined once,
without TensorFlow, in `kcnn.preprocessing`.
"""

import tensorflow as tf


def normalize(image, prep):
    """`(x - mean) / std` per channel, on an already scaled float image."""
    mean = tf.constant(prep.mean, tf.float32)
    std = tf.constant(prep.std, tf.float32)
    return (image - mean) / std


def normalize_pixels(pixels, prep):
    """Pixel values on the [0, 255] scale (float32, RGB) → the model's input: the
    contract's channel order, then `x * scale`, then `normalize`."""
    if prep.channel_order == "BGR":
        pixels = tf.reverse(pixels, axis=[-1])
    return normalize(pixels * prep.scale, prep)


def resize(image, prep):
    """Resizes (and, with `crop_fraction`, center-crops) to the contract's `image_size`.

    Args:
        image: a (height, width, channels) or (batch, height, width, channels) tensor,
            uint8 or float, any height and width.
        prep: a `kcnn.preprocessing.Preprocessing`.

    Returns:
        float32 tensor of spatial size `prep.image_size`, values on the input's scale.
    """
    if prep.crop_fraction is None:
        return tf.image.resize(image, prep.image_size, method="bilinear",
                               antialias=prep.antialias)
    size = prep.resize_size
    shape = tf.shape(image)
    height, width = shape[-3], shape[-2]
    # torchvision's Resize(size): the shorter side becomes `size`, the longer
    # int(size * long / short) (rounded down).
    short, long = tf.minimum(height, width), tf.maximum(height, width)
    new_long = tf.cast(tf.math.floor(tf.cast(size, tf.float64) * tf.cast(long, tf.float64)
                                     / tf.cast(short, tf.float64)), tf.int32)
    new_height = tf.where(height <= width, size, new_long)
    new_width = tf.where(height <= width, new_long, size)
    image = tf.image.resize(image, tf.stack([new_height, new_width]), method="bilinear",
                            antialias=prep.antialias)
    crop_height, crop_width = prep.image_size
    # torchvision's CenterCrop: offsets int(round((size - crop) / 2)), half to even.
    top = tf.cast(tf.round(tf.cast(new_height - crop_height, tf.float32) / 2.0), tf.int32)
    left = tf.cast(tf.round(tf.cast(new_width - crop_width, tf.float32) / 2.0), tf.int32)
    return tf.image.crop_to_bounding_box(image, top, left, crop_height, crop_width)


def eval_transform(image, prep):
    """The contract: uint8 (H', W', C) → resize (and crop) → float32 → channel order →
    scale → normalize.

    Args:
        image: uint8 tensor (height, width, channels), any height and width.
        prep: a `kcnn.preprocessing.Preprocessing`.

    Returns:
        float32 tensor of shape (*prep.image_size, channels).
    """
    return normalize_pixels(tf.cast(resize(image, prep), tf.float32), prep)
