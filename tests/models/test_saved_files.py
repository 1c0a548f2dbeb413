"""`.keras` files saved by kcnn before a change to its layers still load and give the same
outputs (tests/models/saved/, written by make_saved_files.py on the code before the change)."""

import os

import numpy as np
import pytest

import kcnn
from output_references import reference_input

SAVED = os.path.join(os.path.dirname(__file__), "saved")
FILES = sorted(f[:-len(".keras")] for f in os.listdir(SAVED) if f.endswith(".keras"))


def test_saved_files_exist():
    assert FILES == ["blocks"]


@pytest.mark.parametrize("name", FILES)
def test_old_keras_file_loads_with_the_same_outputs(name):
    model = kcnn.load_model(os.path.join(SAVED, f"{name}.keras"), safe_mode=True)
    expected = np.load(os.path.join(SAVED, f"{name}.outputs.npy"))
    got = np.asarray(model(reference_input(model), training=False))
    np.testing.assert_allclose(got, expected, rtol=1e-5,
                               atol=1e-5 * float(np.max(np.abs(expected))))
