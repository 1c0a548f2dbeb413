"""Fixed seeded weights and a model's outputs on a fixed input: what "outputs unchanged" means.

`seed_weights` sets every weight of a model, BatchNorm's moving statistics included, to
non-trivial values drawn with NumPy from a seeded generator (not the model's own
initializers, which a change to a builder could change): zero means, unit variances or
unit scales would hide a change in padding, in BatchNorm or in the order of operations.
`output_summary` runs the model in inference mode on a fixed input and keeps its
outputs: in full where small, otherwise a fixed random projection (every output value
counts in every projected one, so any change shows).

The fixture `tests/models/output_references.npz` holds these for every sweep case, made by
`tests/models/make_output_references.py` on the code before a change; `test_sweep.py`
compares every model with it (`check_output_reference`).
"""

import os
import zlib

import numpy as np

FIXTURE = os.path.join(os.path.dirname(__file__), "models", "output_references.npz")
FULL_LIMIT = 2048     # outputs with at most this many values are stored in full
PROJECTED = 128       # otherwise, this many random projections of them
RTOL = 1e-5           # relative to the largest stored value of the output
_POOL_SIZE = 1_000_003  # prime: a weight read from the pool has no period of its shape


def _pool():
    return np.random.default_rng(20261201).standard_normal(_POOL_SIZE).astype("float32")


def _draw(pool, rng, n):
    # Drawing 100 M fresh normals for the VGGs would cost seconds: read the pool from a
    # random offset instead, cyclically (a prime-length cycle: values, not a pattern).
    start = int(rng.integers(_POOL_SIZE))
    if start + n <= _POOL_SIZE:
        return pool[start:start + n]
    return np.resize(np.roll(pool, -start), n)


def seed_weights(model, seed=0):
    """Sets every weight of `model` from a generator seeded by `seed` and the weight's order.

    Kernels: normal, He-scaled by their fan-in; biases and BatchNorm's beta and moving
    mean: normal with std 0.2; BatchNorm's gamma and moving variance: uniform in [0.5, 1.5].
    """
    pool = _pool()
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        shape = tuple(weight.shape)
        n = int(np.prod(shape))
        leaf = weight.path.rsplit("/", 1)[-1]
        if leaf in ("gamma", "moving_variance"):
            value = rng.uniform(0.5, 1.5, n).astype("float32")
        else:
            fan_in = n // shape[-1] if len(shape) >= 2 else 0
            value = np.array(_draw(pool, rng, n))  # a copy, scaled in place (float32)
            value *= np.float32(np.sqrt(2.0 / fan_in) if fan_in else 0.2)
        weight.assign(value.reshape(shape))


def reference_input(model, seed=3):
    """The fixed input: 2 standard normal images (the sweep's `random_images(..., seed=3)`)."""
    shape = model.input_shape[1:]
    return np.random.default_rng(seed).standard_normal((2, *shape)).astype("float32")


def _projection(n, case_id):
    rng = np.random.default_rng(zlib.crc32(f"{case_id}:{n}".encode()))
    return (rng.standard_normal((n, PROJECTED)) / np.sqrt(n)).astype("float64")


def model_outputs(model):
    """The outputs (a list) in inference mode on the fixed input."""
    outputs = model(reference_input(model), training=False)
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def output_summary(case_id, outputs):
    """{f"{case_id}/{i}": array} for each output `i` of `outputs` (a list): what is stored."""
    summary = {}
    for i, output in enumerate(outputs):
        flat = np.asarray(output, dtype="float64").reshape(-1)
        if flat.size > FULL_LIMIT:
            flat = flat @ _projection(flat.size, case_id)
        summary[f"{case_id}/{i}"] = flat.astype("float32")
    return summary


def load_references():
    with np.load(FIXTURE) as f:
        return {k: f[k] for k in f.files}


def check_output_reference(case_id, outputs, references):
    """`outputs`, those of the model with `seed_weights` on `reference_input`, are the
    stored ones (to `RTOL` of their scale)."""
    got = output_summary(case_id, outputs)
    stored = {k: v for k, v in references.items() if k.split("/")[0] == case_id}
    assert stored, (f"{case_id}: no stored outputs in {FIXTURE}; a new case needs "
                    "tests/models/make_output_references.py --add")
    assert sorted(got) == sorted(stored), case_id
    for key, expected in stored.items():
        scale = float(np.max(np.abs(expected)))
        np.testing.assert_allclose(got[key], expected, rtol=RTOL, atol=RTOL * scale,
                                   err_msg=f"{key}: outputs differ from the stored reference")
