"""Makes the torchvision fixtures of tests/weights/ (run by hand; the suite never needs torch).

    /work/torchenv/bin/python tests/weights/make_torch_fixtures.py [CASE ...] [--debug DIR]

For each case, a torchvision model is filled with weights from `seeded.seeded_state` (every
parameter and buffer, BatchNorm running statistics included), run in eval mode on
`seeded.seeded_images`, and `fixtures/torchvision/<case>.json` (the model, its state-dict
keys with shapes and dtypes, the seeds) and `<case>.npz` (the outputs, channels-last) are
written: no weights, a few KB per case. GoogLeNet's auxiliary heads run only in training
mode in torchvision, so their outputs are those of `aux1`/`aux2` called in eval mode on
the maps after inception (4a) and (4d), which is what kcnn's inference outputs are.

`--debug DIR` also writes every top-level module's output (`<case>_stages.npz`, not for
the suite) to compare a kcnn model stage by stage.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seeded import seeded_images, seeded_state  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "torchvision")
SEED = 0

# case: (torchvision builder, kwargs, input height/width, features_only)
CASES = {
    **{f"resnet{d}": (f"resnet{d}", {}, 64, False) for d in (18, 34, 50, 101, 152)},
    **{f"vgg{d}{bn}": (f"vgg{d}{bn}", {}, 224, False)
       for d in (11, 13, 16, 19) for bn in ("", "_bn")},
    # The body of vgg11_bn at a small size: cheap enough for the suite.
    "vgg11_bn_features": ("vgg11_bn", {}, 64, True),
    "alexnet": ("alexnet", {}, 224, False),
    # As torchvision's pretrained googlenet: transform_input=True, aux heads present.
    # 100×100 makes the stem's pools see odd sizes (where ceil_mode matters) and the
    # auxiliary heads' adaptive pool overlap (6×6 -> 4×4).
    "googlenet": ("googlenet", {"aux_logits": True, "transform_input": True}, 100, False),
    "googlenet_224": ("googlenet", {"aux_logits": True, "transform_input": True}, 224,
                      False),
    "googlenet_no_transform": ("googlenet", {"aux_logits": True, "transform_input": False},
                               100, False),
}


# ResNets: the last BatchNorm scale of each residual branch is small, so that activations
# stay of order 1 through 50 blocks (what trained networks do; random statistics don't).

def _scales(builder):
    if builder in ("resnet18", "resnet34"):
        return [(r"layer\d\.\d+\.bn2\.weight", 0.25)]
    if builder.startswith("resnet"):
        return [(r"layer\d\.\d+\.bn3\.weight", 0.25)]
    return []


def _nhwc(t):
    a = t.detach().numpy()
    return np.transpose(a, (0, 2, 3, 1)) if a.ndim == 4 else a


def make(case, debug=None):
    builder, kwargs, size, features_only = CASES[case]
    extra = {"init_weights": False} if builder == "googlenet" else {}
    model = getattr(torchvision.models, builder)(weights=None, **kwargs, **extra).eval()
    keys = [(k, list(v.shape), str(v.dtype).replace("torch.", ""))
            for k, v in model.state_dict().items()]
    scales = _scales(builder)
    state = seeded_state(keys, SEED, scales=scales)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    images = seeded_images((size, size, 3))
    x = torch.from_numpy(np.ascontiguousarray(np.transpose(images, (0, 3, 1, 2))))

    captured = {}
    hooks = []
    modules = dict(model.named_children())
    watch = list(modules) if debug else []
    if builder == "googlenet":
        watch += ["inception4a", "inception4d"]
    for name in set(watch):
        hooks.append(modules[name].register_forward_hook(
            lambda m, i, o, name=name: captured.__setitem__(name, o)))
    outputs = {}
    with torch.no_grad():
        if features_only:
            outputs["features"] = _nhwc(model.features(x))
        else:
            outputs["predictions"] = _nhwc(model(x))
        if builder == "googlenet":
            outputs["aux1"] = _nhwc(model.aux1(captured["inception4a"]))
            outputs["aux2"] = _nhwc(model.aux2(captured["inception4d"]))
            if debug:
                captured["transformed"] = model._transform_input(x)
    for h in hooks:
        h.remove()

    os.makedirs(OUT, exist_ok=True)
    record = {
        "case": case, "builder": builder, "kwargs": kwargs,
        "input_shape": [size, size, 3], "batch": int(images.shape[0]),
        "seed": SEED, "scales": scales, "input_seed": 1234, "outputs": list(outputs),
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "keys": keys,
    }
    with open(os.path.join(OUT, f"{case}.json"), "w") as f:
        json.dump(record, f, separators=(",", ":"))
    np.savez_compressed(os.path.join(OUT, f"{case}.npz"),
                        **{k: v.astype("float32") for k, v in outputs.items()})
    if debug:
        os.makedirs(debug, exist_ok=True)
        np.savez(os.path.join(debug, f"{case}_stages.npz"),
                 **{k: _nhwc(v) for k, v in captured.items()})
    worst = {k: float(np.abs(v).max()) for k, v in outputs.items()}
    print(f"{case}: {len(keys)} keys, input {size}x{size}, max|output| {worst}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help=f"default: all of {', '.join(CASES)}")
    parser.add_argument("--debug", metavar="DIR", help="also write stage outputs to DIR")
    args = parser.parse_args()
    torch.manual_seed(0)
    for case in args.cases or CASES:
        make(case, args.debug)


if __name__ == "__main__":
    main()
