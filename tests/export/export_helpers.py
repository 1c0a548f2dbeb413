"""Constants and helpers shared by the export tests."""

import os

LENET_PREPROCESSING = {"image_size": [32, 32], "channels": 1, "scale": 1 / 255,
                       "mean": [0.5], "std": [0.25],
                       "class_names": [f"digit_{i}" for i in range(10)]}


def numeric_dirs(base):
    """The numeric (version) entries of `base`, sorted as strings."""
    return sorted(n for n in os.listdir(base) if n.isdigit()) if os.path.isdir(base) else []
