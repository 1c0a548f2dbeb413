"""Published pretrained weights: readers, the catalogue, downloads.

- readers (`read_weights`, `read_safetensors`, `read_torch`, `read_keras_h5`): a file's
  tensors as `dict[str, numpy.ndarray]` under the source's own names and layouts,
  executing nothing from the file (torch need not be installed);
- the catalogue (`list_weights`, `find_weights`, `imagenet_classes`): one record per
  published file, with its URL, hash, accuracy and evaluation preprocessing;
- downloads (`fetch_weights`): into Keras's cache, the hash checked;
- converters (`load_torchvision`, `load_keras`): a source's tensors into a kcnn model,
  all-or-nothing (`LoadReport`, `WeightsMismatchError`); the builders' `weights=`
  (`kcnn.weights.pretrained`, `FreshHeadWarning`);
- the weights' preprocessing (`weights_preprocessing`, `preprocess`): the evaluation
  preprocessing of each file as kcnn's `Preprocessing`, with ImageNet's class names.

Nothing is imported until first used: `import kcnn.weights` imports neither NumPy nor
Keras, and `kcnn.weights.read_weights` loads only the readers.
"""

import importlib

_LAZY = {
    **dict.fromkeys(("FORMATS", "detect_format", "read_keras_h5", "read_safetensors",
                     "read_torch", "read_weights"), "kcnn.weights.readers"),
    "WeightsFileError": "kcnn.weights._errors",
    **dict.fromkeys(("SOURCES", "WeightsRecord", "check_source", "find_weights",
                     "imagenet_classes", "list_weights"), "kcnn.weights.catalogue"),
    **dict.fromkeys(("WeightsDownloadError", "WeightsHashError", "cache_dir", "cache_path",
                     "download_weights", "fetch_weights"), "kcnn.weights.download"),
    **dict.fromkeys(("LoadReport", "WeightsMismatchError"), "kcnn.weights._convert"),
    "load_torchvision": "kcnn.weights.convert_torchvision",
    "load_keras": "kcnn.weights.convert_keras",
    **dict.fromkeys(("FreshHeadWarning",), "kcnn.weights.pretrained"),
    **dict.fromkeys(("preprocess", "preprocessing_for_weights", "record_preprocessing",
                     "source_preprocessing", "weights_preprocessing"),
                    "kcnn.weights.preprocessing"),
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_LAZY})
