"""Exports shared by the export tests (SavedModel writing is slow: do each once)."""

import pytest
import tensorflow as tf

import kcnn
from kcnn.export import export_saved_model
from export.export_helpers import LENET_PREPROCESSING


@pytest.fixture(scope="session")
def lenet_export(tmp_path_factory):
    """A LeNet-5 with class names exported (no verification) to `<tmp>/lenet/1`."""
    model = kcnn.models.lenet5()
    base = tmp_path_factory.mktemp("serving") / "lenet"
    result = export_saved_model(model, base, preprocessing=LENET_PREPROCESSING)
    return model, result, str(base)


@pytest.fixture(scope="session")
def lenet_loaded(lenet_export):
    """The exported LeNet-5, loaded with TensorFlow in this process."""
    return tf.saved_model.load(lenet_export[1].path)

