"""The preprocessing contract (`kcnn.preprocessing.Preprocessing`) as TensorFlow ops.

`eval_transform` is the contract exactly; training adds augmentation around it
(`kcnn.data.pipeline`). The contract itself, and `preprocessing.json`, are defined once,
without TensorFlow, in `kcnn.preprocessing`.
"""

import tensorflow as tf


def normalize(image, prep):
    """`(x - mean) / std` per channel, on an already scaled float image."""
    mean = tf.constant(prep.mean, tf.float32)
    std = tf.constant(prep.std, tf.float32)
    return (image - mean) / std


def eval_transform(image, prep):
    """The contract: uint8 (H', W', C) → bilinear resize → float32 → scale → normalize.

    Args:
        image: uint8 tensor (height, width, channels), any height and width.
        prep: a `kcnn.preprocessing.Preprocessing`.

    Returns:
        float32 tensor of shape (*prep.image_size, channels).
    """
    image = tf.image.resize(image, prep.image_size, method="bilinear")
    return normalize(tf.cast(image, tf.float32) * prep.scale, prep)
