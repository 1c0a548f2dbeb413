"""Every builder runs on the JAX backend too (in a subprocess: the backend is per process)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # starts first in the two test workers (tests/conftest.py)

pytest.importorskip("jax")

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import keras
    assert keras.backend.backend() == "jax", keras.backend.backend()

    # Weights are drawn with NumPy here. Keras's JAX initializers compile one XLA program
    # per weight shape (GoogLeNet: 57 programs, 9 of its 10 s of building); that is Keras's
    # code, and what this test checks is kcnn's layers and builders on JAX.
    import jax.numpy as jnp
    from keras.src.backend.jax import random as jax_random
    rng = np.random.default_rng(0)

    # float32 draws (half the time of float64 ones); the truncation redraws only the
    # values outside two standard deviations.
    def _truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        x = rng.standard_normal(tuple(shape), dtype=np.float32)
        out = np.abs(x) > 2
        x[out] = np.clip(rng.standard_normal(int(out.sum()), dtype=np.float32), -2, 2)
        return jnp.asarray((mean + stddev * x).astype(dtype or "float32"))

    def _normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        x = mean + stddev * rng.standard_normal(tuple(shape), dtype=np.float32)
        return jnp.asarray(x.astype(dtype or "float32"))

    def _uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        x = minval + (maxval - minval) * rng.random(tuple(shape), dtype=np.float32)
        return jnp.asarray(x.astype(dtype or "float32"))

    jax_random.truncated_normal, jax_random.normal = _truncated_normal, _normal
    jax_random.uniform = _uniform

    import kcnn
    assert "tensorflow" not in sys.modules, "kcnn layers and builders must not import TensorFlow"
    from model_cases import SMALL
    results = {}
    for case_id in kcnn.models.list_models():
        kwargs, shape = SMALL[case_id]
        shapes = [shape]
        model = kcnn.models.get_model(case_id, **kwargs)
        x = np.random.default_rng(0).standard_normal((2, *model.input_shape[1:])).astype("float32")
        outputs = model(x, training=False)  # eager: one small program per op and shape,
        # shared between models (a jitted predict compiles each model whole, ~1.5x slower)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        results[case_id] = {
            "shapes": [list(o.shape) for o in outputs],
            "expected": [[2, *s] for s in shapes],
            "finite": all(bool(np.isfinite(np.asarray(o)).all()) for o in outputs),
        }
        keras.backend.clear_session()
    # A feature extractor for any size, at two sizes (an odd one: the strided stage rounds up).
    features = kcnn.models.feature_extractor("resnet20", input_shape=(None, None, 3))
    for size, cells in (((12, 20), [(12, 20), (12, 20), (6, 10), (3, 5)]),
                        ((9, 7), [(9, 7), (9, 7), (5, 4), (3, 2)])):
        maps = features(np.zeros((1, *size, 3), "float32"), training=False)
        results[f"resnet20_features_{size[0]}x{size[1]}"] = {
            "shapes": [list(m.shape) for m in maps],
            "expected": [[1, *c, k] for c, k in zip(cells, (16, 16, 32, 64))],
            "finite": all(bool(np.isfinite(np.asarray(m)).all()) for m in maps),
        }
    # kcnn.layers.BatchNorm's closed-form training gradient (jax.custom_gradient) against
    # JAX's autodiff of Keras's BatchNormalization, jitted as a training step is.
    import jax
    x = (2 * rng.standard_normal((4, 5, 5, 3)) + 1).astype("float32")
    w = rng.standard_normal(x.shape).astype("float32")
    grads = []
    for cls in (keras.layers.BatchNormalization, kcnn.layers.BatchNorm):
        bn = cls(momentum=0.9, epsilon=1e-5)
        bn.build(x.shape)
        frozen = [v.value for v in bn.non_trainable_variables]
        def loss(trainable, x, bn=bn, frozen=frozen):
            return (bn.stateless_call(trainable, frozen, x, training=True)[0] * w).sum()
        grads.append(jax.jit(jax.grad(loss, argnums=(0, 1)))(
            [v.value for v in bn.trainable_variables], x))
    errors = [float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(a)).max())
              for a, b in zip(jax.tree.leaves(grads[0]), jax.tree.leaves(grads[1]))]
    print("BATCHNORM" + json.dumps(errors))
    print("RESULTS" + json.dumps(results))
""")


def test_every_builder_on_jax():
    tests_dir = os.path.dirname(__file__)
    # Building is mostly XLA compiling one weight initializer per shape: compile them cheaply.
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_backend_optimization_level=0",
           "PYTHONPATH": os.pathsep.join([tests_dir, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULTS"))
    results = json.loads(line[len("RESULTS"):])
    import kcnn
    assert set(kcnn.models.list_models()) <= set(results)
    bad = {k: v for k, v in results.items() if v["shapes"] != v["expected"] or not v["finite"]}
    assert not bad, bad
    line = next(l for l in proc.stdout.splitlines() if l.startswith("BATCHNORM"))
    errors = json.loads(line[len("BATCHNORM"):])  # gamma, beta, x: relative to the largest
    assert len(errors) == 3 and max(errors) < 1e-5, errors
