"""tf.data pipelines: the training order is a function of (seed, epoch) only.

An epoch's order is a seeded permutation of the split (or, for a streamed TFDS split, a
shuffle buffer seeded by (seed, epoch)); each example's augmentation is seeded by (seed,
epoch, position). So the batches of step k of epoch e are the same in every run with the
same seed, and a resumed run starts an epoch at any batch.
"""

import numpy as np
import tensorflow as tf

from kcnn.data.augment import augment as _augment
from kcnn.data.preprocessing import eval_transform, normalize_pixels, resize
from kcnn.data.sources import _decode

AUTOTUNE = tf.data.AUTOTUNE


def steps_per_epoch(source, global_batch_size):
    """Full batches in one epoch of `source` (the last partial batch is dropped)."""
    steps = source.num_examples // global_batch_size
    if steps < 1:
        raise ValueError(f"`global_batch_size`={global_batch_size} is larger than the "
                         f"{source.num_examples} examples of {source.name}[{source.split}].")
    return steps


def _epoch_seed(seed, epoch):
    return int(np.random.default_rng([seed, epoch]).integers(0, 2**31 - 1))


def _elements(source, order=None):
    """(image, label) pairs of `source`, in `order` (indices) when given."""
    labels = source.labels if order is None else source.labels[order]
    if source.images is not None:
        images = source.images if order is None else source.images[order]
        return tf.data.Dataset.from_tensor_slices((images, labels))
    paths = source.paths if order is None else source.paths[order]
    channels, max_pixels = source.channels, source.max_pixels
    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    return ds.map(lambda p, y: (_decode(p, channels, max_pixels), y),
                  num_parallel_calls=AUTOTUNE)


def train_batches(source, prep, *, global_batch_size, seed, epoch, start_step=0,
                  augment="none", shuffle_buffer=10_000):
    """The training batches of one epoch, from batch `start_step` on.

    Args:
        source: a `Source` (the training split).
        prep: the `Preprocessing` the model expects.
        global_batch_size: int. Examples per step, over all replicas.
        seed: int. With `epoch`, fixes the order and the augmentation.
        epoch: int. Zero-based epoch number.
        start_step: int. First batch to yield (resuming mid-epoch). Defaults to 0.
        augment: str. A mode of `kcnn.data.augment.augment`. Defaults to `"none"`.
        shuffle_buffer: int. Shuffle buffer of a streamed split. Defaults to 10,000.

    Returns:
        A `tf.data.Dataset` of (float32 images (B, H, W, C), int64 labels (B,)).
    """
    steps = steps_per_epoch(source, global_batch_size)
    if not 0 <= start_step <= steps:
        raise ValueError(f"`start_step` must be in [0, {steps}]; got {start_step}.")
    start = start_step * global_batch_size
    end = steps * global_batch_size
    if source.stream is None:
        order = np.random.default_rng([seed, epoch]).permutation(source.num_examples)
        ds = _elements(source, order[start:end])
        positions = tf.data.Dataset.range(start, end)
    else:
        ds = source.stream.shuffle(shuffle_buffer, seed=_epoch_seed(seed, epoch),
                                   reshuffle_each_iteration=False)
        ds = ds.take(end).skip(start)
        positions = tf.data.Dataset.range(start, end)
    ds = tf.data.Dataset.zip((ds, positions))
    base = tf.constant([seed, epoch], tf.int64)

    def transform(pair, position):
        image, label = pair
        element_seed = tf.random.experimental.stateless_fold_in(base, position)
        image = _augment(image, prep.image_size, element_seed, augment,
                         evaluation_resize=lambda im: resize(im, prep))
        image = normalize_pixels(image, prep)
        return image, label

    ds = ds.map(transform, num_parallel_calls=AUTOTUNE, deterministic=True)
    return ds.batch(global_batch_size, drop_remainder=True).prefetch(AUTOTUNE)


def eval_batches(source, prep, *, batch_size, max_steps=None):
    """The evaluation batches of `source` in its fixed order, with the contract's transform.

    Args:
        source: a `Source`.
        prep: the `Preprocessing`.
        batch_size: int.
        max_steps: int or None. A cap: at most this many batches (smoke runs). Defaults
            to None (all).
    """
    ds = source.stream if source.stream is not None else _elements(source)
    ds = ds.map(lambda x, y: (eval_transform(x, prep), y), num_parallel_calls=AUTOTUNE,
                deterministic=True)
    ds = ds.batch(batch_size)
    if max_steps is not None:
        ds = ds.take(max_steps)
    return ds.prefetch(AUTOTUNE)


def pixel_batches(source, prep, *, batch_size, max_examples=None, seed=None):
    """Batches of (pixels, labels): the contract's resize (and crop) only, not normalized.

    What an exported ONNX or LiteRT graph takes (`kcnn.export.portable`): float32 pixels
    in [0, 255] at `prep.image_size`, in RGB order; the graph scales and normalizes them.

    Args:
        source: a `Source` (`images` or `paths`; a `stream` is read in its order).
        prep: the `Preprocessing`.
        batch_size: int.
        max_examples: int or None. At most this many examples. Defaults to None (all).
        seed: int or None. Take them in a seeded random order (a stream: its own order).
            Defaults to None (the split's fixed order).
    """
    if source.stream is not None:
        ds = source.stream
    else:
        order = (None if seed is None
                 else np.random.default_rng(seed).permutation(source.num_examples))
        ds = _elements(source, order)
    if max_examples is not None:
        ds = ds.take(max_examples)
    ds = ds.map(lambda x, y: (resize(tf.cast(x, tf.float32), prep), y),
                num_parallel_calls=AUTOTUNE, deterministic=True)
    return ds.batch(batch_size).prefetch(AUTOTUNE)


def channel_stats(source, scale, image_size=None, max_examples=10_000, batch_size=64):
    """Per-channel mean and std of `x * scale` over the first `max_examples` examples.

    Measured on the images as the model sees them: each is resized to `image_size`
    (bilinear, as `eval_transform`), so every image weighs the same, however large its
    file. Sums are accumulated batch by batch: memory is bounded by `batch_size` images at
    `image_size` (and the decoder's `max_pixels` bound on one file), never by the split.

    Args:
        source: a `Source`.
        scale: float. The contract's `scale`.
        image_size: (height, width) or None. The model's input size; None measures the
            images at their own size (only meaningful when they all have one size).
        max_examples: int. Examples measured. Defaults to 10,000.
        batch_size: int. Images resized and summed at a time. Defaults to 64.

    Returns:
        (mean, std): tuples of `source.channels` floats.
    """
    ds = source.stream if source.stream is not None else _elements(source)
    ds = ds.take(max_examples)
    if image_size is not None:
        size = tuple(int(d) for d in image_size)
        ds = ds.map(lambda x, y: tf.image.resize(x, size, method="bilinear"),
                    num_parallel_calls=AUTOTUNE)
        ds = ds.batch(batch_size)
    else:
        ds = ds.map(lambda x, y: tf.cast(x, tf.float32)[None])
    channels = source.channels
    total = np.zeros(channels)
    total_sq = np.zeros(channels)
    count = 0
    for images in ds.prefetch(1).as_numpy_iterator():
        x = images.reshape(-1, channels).astype(np.float64) * scale
        total += x.sum(0)
        total_sq += (x * x).sum(0)
        count += len(x)
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean * mean, 1e-12))
    return tuple(mean), tuple(std)
