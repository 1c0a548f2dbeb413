"""Constants and helpers shared by the export tests."""

import os

import numpy as np

LENET_PREPROCESSING = {"image_size": [32, 32], "channels": 1, "scale": 1 / 255,
                       "mean": [0.5], "std": [0.25],
                       "class_names": [f"digit_{i}" for i in range(10)]}


def numeric_dirs(base):
    """The numeric (version) entries of `base`, sorted as strings."""
    return sorted(n for n in os.listdir(base) if n.isdigit()) if os.path.isdir(base) else []


def max_served_difference(saved_model_dir, model, size, seed=0):
    """max |predict_images - softmax(model)| on random pixels, for a model exported with the
    default preprocessing (pixels / 255), in this process."""
    import tensorflow as tf

    pixels = np.random.default_rng(seed).uniform(0, 255, (2, *size, 3)).astype("float32")
    served = tf.saved_model.load(os.fspath(saved_model_dir)).signatures["predict_images"](
        images=tf.constant(pixels))["probabilities"].numpy()
    expected = tf.nn.softmax(model(pixels / 255.0, training=False)).numpy()
    return float(np.abs(served - expected).max())


def trained_like(model, seed=0):
    """Gives BatchNorm trained-looking statistics and affine weights.

    At initialization (mean 0, variance 1, gamma 1, beta 0) a deep BN network can give
    nearly the same output for every image, and a graph that wrongly used batch
    statistics would go unnoticed; after this, both show.
    """
    rng = np.random.default_rng(seed)
    draws = {"moving_mean": lambda n: rng.normal(0, 0.2, n),
             "moving_variance": lambda n: rng.uniform(0.5, 2.0, n),
             "gamma": lambda n: rng.uniform(0.5, 1.5, n),
             "beta": lambda n: rng.normal(0, 0.2, n)}
    changed = 0
    for w in model.weights:
        kind = w.path.rsplit("/", 1)[-1]
        if kind in draws:  # only BatchNormalization has these weights in kcnn's models
            w.assign(draws[kind](w.shape).astype("float32"))
            changed += 1
    return changed
