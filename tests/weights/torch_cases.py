"""The torchvision fixtures (tests/weights/fixtures/torchvision/): the kcnn model for each
case, the seeded state dict it was made with, and the comparison of outputs."""

import json
import os

import numpy as np

import kcnn
from weights.seeded import seeded_images, seeded_state

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "torchvision")


def cases():
    return sorted(f[:-5] for f in os.listdir(FIXTURES) if f.endswith(".json"))


def record(case):
    with open(os.path.join(FIXTURES, f"{case}.json")) as f:
        rec = json.load(f)
    with np.load(os.path.join(FIXTURES, f"{case}.npz")) as outputs:
        rec["expected"] = {k: outputs[k] for k in rec["outputs"]}
    return rec


def state(rec):
    """The state dict the fixture's torchvision model was filled with."""
    return seeded_state(rec["keys"], rec["seed"], scales=rec.get("scales", ()))


def images(rec):
    return seeded_images(tuple(rec["input_shape"]), batch=rec["batch"], seed=rec["input_seed"])


def kcnn_model(rec):
    """The kcnn model (torchvision's form) that the fixture's weights go into."""
    shape = tuple(rec["input_shape"])
    builder, kwargs = rec["builder"], rec["kwargs"]
    if builder == "googlenet":
        return kcnn.models.googlenet(input_shape=shape, form="torchvision",
                                     aux_logits=kwargs["aux_logits"],
                                     transform_input=kwargs["transform_input"])
    if rec["outputs"] == ["features"]:
        return kcnn.models.get_model(builder, input_shape=shape, include_top=False)
    return kcnn.models.get_model(builder, input_shape=shape)


def worst_differences(model, rec):
    """`{output: max|kcnn - torchvision| / max(1, max|torchvision|)}` on the fixture's input."""
    got = model(images(rec), training=False)
    got = list(got) if isinstance(got, (list, tuple)) else [got]
    worst = {}
    for name, value in zip(rec["outputs"], got):
        want = rec["expected"][name]
        value = np.asarray(value)
        assert value.shape == want.shape, (name, value.shape, want.shape)
        worst[name] = float(np.abs(value - want).max() / max(1.0, np.abs(want).max()))
    return worst
