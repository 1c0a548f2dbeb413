"""Seeded stand-ins for pretrained weights, drawn with NumPy alone (no torch needed).

`make_torch_fixtures.py` fills torchvision models with these values and records their
outputs; the suite draws the same values from the recorded key list, converts them into
kcnn and compares. Each tensor depends only on the seed, its name and its shape (not on
the order of the keys), so a key list is all a test needs to rebuild a state dict.
"""

import re
import zlib

import numpy as np


def _rng(seed, name):
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def seeded_tensor(name, shape, seed=0, dtype="float32", layout="torch"):
    """One tensor for the state-dict key `name` (a torchvision or keras.applications name).

    Kernels (2-D and more) are He-scaled normals so that activations stay of order 1
    through deep networks; BatchNorm scales are in [0.5, 1.5], running variances in
    [0.5, 2] and running means and biases normal with std 0.2, so that the epsilon and
    the statistics change the outputs. Integer tensors (`num_batches_tracked`) are
    small counts. `layout` says where a kernel's input axes are: "torch" (OIHW, and
    dense `(out, in)`) or "keras" (HWIO, and dense `(in, out)`).
    """
    shape = tuple(int(d) for d in shape)
    rng = _rng(seed, name)
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0, 1000, size=shape).astype(dtype)
    leaf = name.replace(":", "/").split("/")[-2 if name.endswith(":0") else -1]
    leaf = leaf.rsplit(".", 1)[-1]
    if leaf in ("running_var", "moving_variance"):
        value = rng.uniform(0.5, 2.0, shape)
    elif len(shape) >= 2:
        fan_in = int(np.prod(shape[1:] if layout == "torch" else shape[:-1]))
        value = rng.standard_normal(shape) * np.sqrt(2.0 / max(fan_in, 1))
    elif leaf in ("weight", "gamma"):
        value = rng.uniform(0.5, 1.5, shape)
    else:   # biases, BatchNorm shifts and running means
        value = rng.standard_normal(shape) * 0.2
    return value.astype(dtype)


def seeded_state(keys_and_shapes, seed=0, layout="torch", scales=()):
    """A state dict `{name: array}` for `[(name, shape, dtype), ...]` (dtype optional).

    `scales`: `[(regex, factor), ...]`: the tensors whose names match a regex (fully) are
    multiplied by its factor; e.g. the last BatchNorm scale of each residual branch, so
    that a 50-block ResNet's activations do not grow by 2**50 with random statistics.
    """
    state = {}
    for entry in keys_and_shapes:
        name, shape = entry[0], entry[1]
        dtype = entry[2] if len(entry) > 2 else "float32"
        value = seeded_tensor(name, shape, seed, dtype, layout)
        for pattern, factor in scales:
            if re.fullmatch(pattern, name):
                value = (value * factor).astype(dtype)
        state[name] = value
    return state


def seeded_images(shape, batch=2, seed=1234):
    """Channels-last images `(batch, height, width, channels)`, normal, float32."""
    return np.random.default_rng(seed).standard_normal((batch, *shape)).astype("float32")
