"""Registry-wide sweep: every registered model (and variant) is built once, at a small size,
and goes through every model check: it runs, every weight learns, `summarize` counts all of
it, a `.keras` file (its config alone above `FILE_ROUNDTRIP_LIMIT` weights) loaded with
`safe_mode=True` gives the same outputs, and, on seeded
weights, the outputs stored in `output_references.npz` before any change meant to leave them
alone (tests/output_references.py)."""

import numpy as np
import pytest
import tensorflow as tf

import kcnn
from conftest import (as_list, assert_keras_roundtrip, assert_model_config_roundtrip,
                      check_totals, count_trainable, random_images)
from kcnn.analysis import summarize
from model_cases import sweep_cases
from output_references import (check_output_reference, load_references, reference_input,
                               seed_weights)

pytestmark = pytest.mark.slow  # starts first in the two test workers (tests/conftest.py)

# Every registered model (its size and output shape derived from its record), then variants.
CASES = sweep_cases(kcnn.models.list_models())
# Models small enough for the gradient check on CI's 2 cores (at the sweep's input size).
GRADIENT_LIMIT = 70_000_000
# Above this many weights (at the sweep's size) the round trip is the config's alone
# (`assert_model_config_roundtrip`): FCN-32s, ResNet-101/152, VGG-16/19 (± BN). Their layers
# have a file round trip here in ResNet-50, VGG-13, and test_upsampling.py.
FILE_ROUNDTRIP_LIMIT = 30_000_000
REFERENCES = load_references()


def check_forward_and_gradients(case_id, model, shapes):
    x = random_images(model.input_shape[1:], batch=2)
    with tf.GradientTape() as tape:
        outputs = as_list(model(x, training=True))
        loss = sum(tf.reduce_sum(o * tf.random.stateless_normal(o.shape, seed=(1, i)))
                   for i, o in enumerate(outputs))
    assert [tuple(o.shape) for o in outputs] == [(2, *s) for s in shapes]
    for o in outputs:
        assert np.isfinite(o.numpy()).all()
    if count_trainable(model) > GRADIENT_LIMIT:
        return
    grads = tape.gradient(loss, model.trainable_weights)
    dead = [w.path for w, g in zip(model.trainable_weights, grads)
            if g is None or not np.any(g.numpy())]
    assert not dead, f"{case_id}: weights with no gradient: {dead}"


@pytest.mark.parametrize("case_id,name,kwargs,shapes", CASES, ids=[c[0] for c in CASES])
def test_every_model_check(case_id, name, kwargs, shapes, tmp_path):
    model = kcnn.models.get_model(name, **kwargs)
    check_forward_and_gradients(case_id, model, shapes)
    check_totals(case_id, model, summarize(model))
    if case_id == name and kcnn.models.feature_stages(name):
        # Its stage table names layers of what its builder builds (more in test_features.py).
        features = kcnn.models.feature_extractor(model)
        assert features.feature_info.names() == kcnn.models.feature_stages(name)
    seed_weights(model)  # BatchNorm's statistics too: what a padding or BN change would move
    if model.count_params() > FILE_ROUNDTRIP_LIMIT:
        outputs = assert_model_config_roundtrip(model, reference_input(model), atol=1e-6)
    else:
        outputs = assert_keras_roundtrip(model, reference_input(model),
                                         tmp_path / f"{case_id}.keras", atol=1e-6)
    check_output_reference(case_id, outputs, REFERENCES)
