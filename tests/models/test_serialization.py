"""Every model and variant: .keras save + load_model(safe_mode=True) gives equal outputs."""

import pytest

import kcnn
from conftest import assert_keras_roundtrip, random_images
from model_cases import sweep_cases

CASES = [c for c in sweep_cases(kcnn.models.list_models()) if c[2] is not None]


@pytest.mark.parametrize("case_id,name,kwargs,shapes", CASES, ids=[c[0] for c in CASES])
def test_keras_file_roundtrip(case_id, name, kwargs, shapes, tmp_path):
    model = kcnn.models.get_model(name, **kwargs)
    x = random_images(model.input_shape[1:], batch=2, seed=3)
    assert_keras_roundtrip(model, x, tmp_path / f"{case_id}.keras", atol=1e-6)
