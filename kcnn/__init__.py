"""kcnn: the classic convolutional networks as exact, tested Keras 3 models."""

import importlib

__version__ = "0.1.0"

# Every sub-package loads on first use (PEP 562), so `import kcnn` costs nothing and the
# `kcnn` command starts without Keras: `models` lists and describes models without Keras
# (it imports a builder when asked for one), `preprocessing` and `io` need only the standard
# library, `layers`, `analysis` and `convert` need only Keras (and so TensorFlow only under
# its backend); `data`, `train` and `export` import TensorFlow; `weights` lists its catalogue
# with the standard library and reads weight files with NumPy (and h5py, safetensors);
# `explain` computes with Keras (its gradients and image decoding need TensorFlow) and
# draws with matplotlib.
_SUBPACKAGES = ("layers", "models", "analysis", "convert", "data", "train", "export",
                "preprocessing", "io", "saving", "weights", "explain")


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"kcnn.{name}")
    if name == "load_model":  # kcnn.saving.load_model: a .keras file with kcnn's layers
        return importlib.import_module("kcnn.saving").load_model
    raise AttributeError(f"module 'kcnn' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_SUBPACKAGES, "load_model"})
