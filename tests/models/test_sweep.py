"""Registry-wide sweep: every registered model builds, runs and learns at a small size."""

import numpy as np
import pytest
import tensorflow as tf

import kcnn
from conftest import as_list, count_trainable, random_images
from model_cases import sweep_cases

# Every registered model (its size and output shape derived from its record), then variants.
CASES = sweep_cases(kcnn.models.list_models())
# Models small enough for the gradient check on CI's 2 cores (at the sweep's input size).
GRADIENT_LIMIT = 70_000_000


@pytest.mark.parametrize("case_id,name,kwargs,shapes", CASES, ids=[c[0] for c in CASES])
def test_forward_and_gradients(case_id, name, kwargs, shapes):
    model = kcnn.models.get_model(name, **kwargs)
    x = random_images(model.input_shape[1:], batch=2)
    with tf.GradientTape() as tape:
        outputs = as_list(model(x, training=True))
        loss = sum(tf.reduce_sum(o * tf.random.stateless_normal(o.shape, seed=(1, i)))
                   for i, o in enumerate(outputs))
    assert [tuple(o.shape) for o in outputs] == [(2, *s) for s in shapes]
    for o in outputs:
        assert np.isfinite(o.numpy()).all()
    if case_id == name and kcnn.models.feature_stages(name):
        # Its stage table names layers of what its builder builds (more in test_features.py).
        features = kcnn.models.feature_extractor(model)
        assert features.feature_info.names() == kcnn.models.feature_stages(name)
    if count_trainable(model) > GRADIENT_LIMIT:
        return
    grads = tape.gradient(loss, model.trainable_weights)
    dead = [w.path for w, g in zip(model.trainable_weights, grads)
            if g is None or not np.any(g.numpy())]
    assert not dead, f"{case_id}: weights with no gradient: {dead}"
