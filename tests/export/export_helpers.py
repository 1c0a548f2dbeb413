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
