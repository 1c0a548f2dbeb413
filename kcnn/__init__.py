"""kcnn: the classic convolutional networks as exact, tested Keras 3 models."""

import importlib

__version__ = "0.1.0"

# Imported on first use: `models` lists and describes models without Keras (it imports a
# builder when asked for one); `layers`, `analysis` and `convert` need only Keras; `data`,
# `train` and `export` import TensorFlow, which `import kcnn` must not do (the JAX backend).
_LAZY = ("layers", "models", "analysis", "convert", "data", "train", "export")


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"kcnn.{name}")
    raise AttributeError(f"module 'kcnn' has no attribute {name!r}")
