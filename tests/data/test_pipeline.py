"""Deterministic order, the preprocessing contract, augmentations, the offline digits."""

import numpy as np
import pytest
import tensorflow as tf

from kcnn.data import (AUGMENTATIONS, Preprocessing, augment, channel_stats, eval_batches,
                       eval_transform, load_source, train_batches)
from kcnn.data.augment import _PCA_EIGVAL, _PCA_EIGVEC, pca_color_noise


@pytest.fixture(scope="module")
def digits():
    return load_source("digits", "train"), load_source("digits", "test")


def _labels(ds):
    return np.concatenate([y.numpy() for _, y in ds])


def test_digits_is_real_offline_and_split_once(digits):
    train, test = digits
    assert (train.num_examples, test.num_examples) == (1438, 359)  # 1,797 digits, 20 % held out
    assert train.images.dtype == np.uint8 and train.images.shape[1:] == (8, 8, 1)
    assert train.images.max() == 255 and train.images.min() == 0
    # Stratified: every class is about 20 % of its digits in the test split.
    counts = np.bincount(test.labels, minlength=10) / (
        np.bincount(test.labels, minlength=10) + np.bincount(train.labels, minlength=10))
    assert np.all(np.abs(counts - 0.2) < 0.01)
    from sklearn.datasets import load_digits
    original = {row.tobytes() for row in np.round(load_digits().images * 255 / 16)
                .astype(np.uint8)}
    assert all(img[..., 0].tobytes() in original for img in test.images[:20])


def test_order_is_a_function_of_seed_and_epoch(digits):
    train, _ = digits
    prep = Preprocessing(image_size=(32, 32), channels=1)
    kw = dict(global_batch_size=32, augment="shift")
    a = list(train_batches(train, prep, seed=7, epoch=2, **kw).take(4))
    b = list(train_batches(train, prep, seed=7, epoch=2, **kw).take(4))
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    other_epoch = _labels(train_batches(train, prep, seed=7, epoch=3, **kw).take(4))
    other_seed = _labels(train_batches(train, prep, seed=8, epoch=2, **kw).take(4))
    labels = np.concatenate([y.numpy() for _, y in a])
    assert not np.array_equal(labels, other_epoch) and not np.array_equal(labels, other_seed)
    # Resuming at batch 3 yields exactly batches 3, 4, ... (images and labels).
    resumed = next(iter(train_batches(train, prep, seed=7, epoch=2, start_step=3, **kw)))
    np.testing.assert_array_equal(resumed[0].numpy(), a[3][0].numpy())
    # One epoch is a permutation of the split, last partial batch dropped.
    epoch = _labels(train_batches(train, prep, seed=7, epoch=0, global_batch_size=32))
    assert len(epoch) == 1438 // 32 * 32


def test_eval_transform_is_the_contract():
    # Independent arithmetic: a constant image stays constant under bilinear resizing,
    # so each pixel must be (value * scale - mean) / std per channel.
    prep = Preprocessing(image_size=(7, 5), channels=3, scale=1 / 255,
                         mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    image = np.zeros((11, 13, 3), np.uint8) + np.array([10, 128, 250], np.uint8)
    out = eval_transform(tf.constant(image), prep).numpy()
    expected = (np.array([10, 128, 250]) / 255 - np.array(prep.mean)) / np.array(prep.std)
    assert out.shape == (7, 5, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, np.broadcast_to(expected, out.shape), rtol=1e-5)
    # And a non-constant image matches PIL-free bilinear: half-pixel centres (TF2 resize).
    ramp = np.tile(np.arange(4, dtype=np.uint8)[None, :, None] * 60, (1, 1, 1))
    out = eval_transform(tf.constant(ramp), Preprocessing((1, 2), 1, scale=1.0)).numpy()
    np.testing.assert_allclose(out[0, :, 0], [30.0, 150.0])  # means of (0,60) and (120,180)


@pytest.mark.parametrize("mode", AUGMENTATIONS)
def test_augmentations_shape_range_and_seed(mode):
    image = tf.constant(np.random.default_rng(0).integers(0, 256, (40, 30, 3), np.uint8))
    seed = tf.constant([1, 2], tf.int64)
    a = augment(image, (24, 24), seed, mode)
    b = augment(image, (24, 24), seed, mode)
    c = augment(image, (24, 24), tf.constant([1, 3], tf.int64), mode)
    assert a.shape == (24, 24, 3) and a.dtype == tf.float32
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    if mode != "none":
        assert not np.array_equal(a.numpy(), c.numpy())
    if mode not in ("alexnet",):  # PCA noise may leave [0, 255] slightly
        assert a.numpy().min() >= 0 and a.numpy().max() <= 255.0001
    with pytest.raises(ValueError, match="augment"):
        augment(image, (24, 24), seed, "mixup")


def test_cifar_crop_is_a_shift_of_the_padded_image():
    image = tf.constant(np.arange(8 * 8, dtype=np.uint8).reshape(8, 8, 1))
    out = augment(image, (8, 8), tf.constant([5, 6], tf.int64), "shift").numpy()[..., 0]
    padded = np.pad(np.arange(64).reshape(8, 8), 1)  # shift pads size // 8 = 1 pixel
    windows = [padded[i:i + 8, j:j + 8] for i in range(3) for j in range(3)]
    assert any(np.array_equal(out, w) for w in windows)


def test_pca_colour_noise_formula():
    seed = tf.constant([4, 2], tf.int64)
    alpha = tf.random.stateless_normal([3], seed, stddev=0.1).numpy()
    expected = 255.0 * np.array(_PCA_EIGVEC) @ (alpha * np.array(_PCA_EIGVAL))
    out = pca_color_noise(tf.zeros((2, 2, 3)), seed).numpy()
    np.testing.assert_allclose(out[1, 1], expected, rtol=1e-5)


def test_channel_stats_and_eval_batches(digits):
    train, test = digits
    mean, std = channel_stats(train, 1 / 255)
    pixels = train.images.astype(np.float64) / 255
    np.testing.assert_allclose([mean[0], std[0]], [pixels.mean(), pixels.std()])
    prep = Preprocessing(image_size=(32, 32), channels=1, mean=mean, std=std)
    labels = _labels(eval_batches(test, prep, batch_size=100))
    np.testing.assert_array_equal(labels, test.labels)  # fixed order, nothing dropped
