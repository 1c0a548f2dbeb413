"""Builders of the classic architectures, each a plain functional `keras.Model`."""

from kcnn.models._registry import get_model, list_models, register_model
from kcnn.models.lenet import lenet5
