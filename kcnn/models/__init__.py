"""Builders of the classic architectures, each a plain functional `keras.Model`.

The registry and the model records import no Keras: `list_models()` and `model_info()` are
cheap. A builder's family module (and Keras with it) is imported on first use, by
`get_model` or by an attribute: `kcnn.models.resnet50(...)` and
`from kcnn.models import resnet50` work as if every builder were imported here.
"""

import importlib
import sys
import types

from kcnn.models._info import RECORDS, ModelInfo, ReferenceAccuracy
from kcnn.models._registry import (get_model, list_models, load_builder, model_info,
                                   register_model)

# Public functions of Keras-importing modules, loaded on first use as the builders are.
_LAZY = {
    **dict.fromkeys(("FeatureInfo", "FeatureStage", "feature_extractor", "feature_stages"),
                    "kcnn.models.features"),
    **dict.fromkeys(("ends_in_softmax", "inference_model", "outputs_logits",
                     "split_outputs"), "kcnn.models.heads"),
}

__all__ = ["ModelInfo", "ReferenceAccuracy", "get_model", "list_models", "load_builder",
           "model_info", "register_model", *_LAZY, *RECORDS]


_FAMILIES = frozenset(info.family for info in RECORDS.values())


def __getattr__(name):
    if name in RECORDS:
        return load_builder(name)
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _FAMILIES:  # `kcnn.models.resnet`, the module
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_LAZY, *RECORDS})


class _Package(types.ModuleType):
    """Keeps `kcnn.models.nin` the builder once the module `kcnn.models.nin` is imported.

    Importing a submodule binds it as an attribute of its package. Three builders share
    their module's name (`alexnet`, `googlenet`, `nin`); whichever way their module is
    first imported, the package attribute is set to the builder instead.
    """

    def __setattr__(self, name, value):
        if (isinstance(value, types.ModuleType) and name in RECORDS
                and value.__name__ == f"{__name__}.{name}"):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
