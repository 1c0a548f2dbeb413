"""GoogLeNet, stage by stage: kcnn's torchvision form against torchvision, with each known
difference put back one at a time (run by hand; the suite does not need it).

    /work/torchenv/bin/python tests/weights/make_torch_fixtures.py googlenet_224 --debug DIR
    python tests/weights/compare_googlenet_stages.py DIR/googlenet_224_stages.npz

Prints, for the exact form and for each variant, the first stage whose output differs from
torchvision's by more than 1e-4 relative, and the final outputs' differences.
"""

import contextlib
import importlib
import os
import sys
from unittest import mock

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from weights import torch_cases  # noqa: E402

import kcnn  # noqa: E402
from kcnn.weights._convert import load  # noqa: E402
from kcnn.weights.convert_torchvision import torchvision_targets  # noqa: E402

gmod = importlib.import_module("kcnn.models.googlenet")   # the module, not the builder

# (torchvision module, kcnn layer)
STAGES = [("transformed", "transform_input"), ("conv1", "conv1"), ("maxpool1", "pool1"),
          ("conv2", "conv2_reduce"), ("conv3", "conv2"), ("maxpool2", "pool2"),
          ("inception3a", "inception_3a"), ("inception3b", "inception_3b"),
          ("maxpool3", "pool_3b"), ("inception4a", "inception_4a"),
          ("inception4b", "inception_4b"), ("inception4c", "inception_4c"),
          ("inception4d", "inception_4d"), ("inception4e", "inception_4e"),
          ("maxpool4", "pool_4e"), ("inception5a", "inception_5a"),
          ("inception5b", "inception_5b"), ("aux1", "aux1"), ("aux2", "aux2"),
          ("fc", "predictions")]


def _paper_pools(x, size, form, name):
    return keras.layers.MaxPooling2D(3, strides=2, padding="same", name=name)(x)


def _pool_4e_3x3(x, size, form, name):
    return _max_pool(x, 3, form, name)


_max_pool = gmod._max_pool
_aux = gmod.AuxiliaryClassifier


def _aux_paper_pool(*args, adaptive_pool=None, **kwargs):
    return _aux(*args, adaptive_pool=None, **kwargs)


VARIANTS = {
    "exact torchvision form": [],
    "BatchNorm epsilon 1e-5": [mock.patch.object(gmod, "TORCHVISION_BN_EPSILON", 1e-5)],
    "stride-2 pools 'same' (not ceil_mode)": [mock.patch.object(gmod, "_max_pool",
                                                                _paper_pools)],
    "3x3 pool after (4e) (not 2x2)": [mock.patch.object(gmod, "_max_pool", _pool_4e_3x3)],
    "aux pool 5x5/3 (not adaptive 4x4)": [mock.patch.object(gmod, "AuxiliaryClassifier",
                                                            _aux_paper_pool)],
    "no transform_input": ["no_transform"],
}


def main(stages_path):
    rec = torch_cases.record(os.path.basename(stages_path)[:-len("_stages.npz")])
    with np.load(stages_path) as f:
        reference = {k: f[k] for k in f.files}
    state = torch_cases.state(rec)
    x = torch_cases.images(rec)
    for title, patches in VARIANTS.items():
        with contextlib.ExitStack() as stack:
            for p in patches:
                if p != "no_transform":
                    stack.enter_context(p)
            model = kcnn.models.googlenet(
                input_shape=tuple(rec["input_shape"]), form="torchvision", aux_logits=True,
                transform_input=rec["kwargs"]["transform_input"]
                and "no_transform" not in patches)
        try:
            load(model, torchvision_targets(model, "googlenet"), state,
                 skip=[k for k in state if k.endswith("num_batches_tracked")])
        except ValueError as e:
            print(f"{title:40s} refused: {str(e).splitlines()[2].strip()}")
            continue
        names = {layer.name for layer in model.layers}
        stages = [(t, k) for t, k in STAGES if k in names]
        probe = keras.Model(model.input, [model.get_layer(k).output for _, k in stages])
        first = None
        for (t, k), got in zip(stages, probe(x, training=False)):
            want, got = reference[t], np.asarray(got)
            if want.shape != got.shape:
                first = first or f"{k}: shape {got.shape[1:]} vs torchvision {want.shape[1:]}"
                continue
            d = float(np.abs(got - want).max() / max(1.0, np.abs(want).max()))
            if d > 1e-4 and first is None:
                first = f"{k}: {d:.2e}"
        final = torch_cases.worst_differences(model, rec)
        print(f"{title:40s} first differing stage: {first or 'none':32s} "
              + " ".join(f"{k} {v:.1e}" for k, v in final.items()))


if __name__ == "__main__":
    main(sys.argv[1])
