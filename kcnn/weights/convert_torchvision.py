"""torchvision state dicts -> kcnn weights: ResNet-18…152, VGG-11…19 (and `_bn`), AlexNet, GoogLeNet.

Each kcnn weight is named by its deterministic variable path
("stage1_block1/conv1/bn/moving_variance"); this module maps it to torchvision's
state-dict key ("layer1.0.bn1.running_var") and layout:

- convolution kernels OIHW -> HWIO;
- dense kernels `(out, in)` -> `(in, out)`; the first dense layer after a flatten (VGG's
  `classifier.0`, AlexNet's `classifier.1`, GoogLeNet's `aux*.fc1`) also has its inputs
  reordered from torchvision's CHW flatten to kcnn's HWC flatten;
- BatchNorm `weight`, `bias`, `running_mean`, `running_var` -> `gamma`, `beta`,
  `moving_mean`, `moving_variance`; `num_batches_tracked` is not a weight and is skipped.

ResNet V1 and V2 weights share one architecture (torchvision's v1.5: the stride on the
3×3); GoogLeNet's weights need kcnn's torchvision form (`googlenet(form="torchvision")`).
"""

import math
import re

import numpy as np

from kcnn.layers import ResidualBlock
from kcnn.weights._convert import Target, load

FAMILIES = ("resnet", "vgg", "alexnet", "googlenet")

# kcnn variable name -> torchvision parameter or buffer name.
_VARIABLES = {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias",
              "moving_mean": "running_mean", "moving_variance": "running_var"}


def family_of(model):
    """The torchvision family of a kcnn model, from its layer names; ValueError if none."""
    names = {layer.name for layer in model.layers}
    if "inception_3a" in names:
        return "googlenet"
    if {"stem_pool", "stage1_block1"} <= names:
        return "resnet"
    if "block1_conv1" in names:
        return "vgg"
    if {"conv5", "pool5"} <= names and "lrn1" not in names:
        return "alexnet"
    raise ValueError(
        f"model {model.name!r} is not one of the architectures torchvision publishes weights "
        f"for ({', '.join(FAMILIES)}; the ImageNet ResNets, not the CIFAR ones; AlexNet's "
        "single tower, not alexnet_paper).")


# --- names --------------------------------------------------------------------------------

def _resnet_module(parts, model):
    if parts[0] == "stem_conv":
        return {"conv": "conv1", "bn": "bn1"}.get(parts[1])
    if parts == ["predictions"]:
        return "fc"
    m = re.fullmatch(r"stage(\d+)_block(\d+)", parts[0])
    if not m or len(parts) != 3:
        return None
    base = f"layer{m[1]}.{int(m[2]) - 1}"
    if parts[1] == "projection":
        return f"{base}.downsample." + {"conv": "0", "bn": "1"}[parts[2]]
    m = re.fullmatch(r"conv(\d)", parts[1])
    return f"{base}.{parts[2]}{m[1]}" if m else None


_GOOGLENET_STEM = {"conv1": "conv1", "conv2_reduce": "conv2", "conv2": "conv3"}
_GOOGLENET_BRANCHES = {"branch1_1x1": "branch1", "branch2_reduce": "branch2.0",
                       "branch2_3x3": "branch2.1", "branch3_reduce": "branch3.0",
                       "branch3_kxk": "branch3.1", "branch4_proj": "branch4.1"}


def _googlenet_module(parts, model):
    if parts[0] in _GOOGLENET_STEM and len(parts) == 2:
        return f"{_GOOGLENET_STEM[parts[0]]}.{parts[1]}"
    if parts == ["predictions"]:
        return "fc"
    m = re.fullmatch(r"inception_(\d[a-e])", parts[0])
    if m and len(parts) == 3 and parts[1] in _GOOGLENET_BRANCHES:
        return f"inception{m[1]}.{_GOOGLENET_BRANCHES[parts[1]]}.{parts[2]}"
    if parts[0] in ("aux1", "aux2"):
        if parts[1] == "conv" and len(parts) == 3:
            return f"{parts[0]}.conv.{parts[2]}"
        if parts[1] in ("fc1", "fc2") and len(parts) == 2:
            return f"{parts[0]}.{parts[1]}"
    return None


def _vgg_module(parts, model):
    # torchvision's `features` is one Sequential: conv, (bn,) relu per convolution and a
    # pool per block, numbered in order.
    index, names, block = 0, {}, None
    for layer in model.layers:
        m = re.fullmatch(r"block(\d+)_conv\d+", layer.name)
        if not m:
            continue
        if block is not None and m[1] != block:
            index += 1                       # the previous block's pool
        block = m[1]
        names[layer.name] = {"conv": f"features.{index}"}
        if getattr(layer, "bn", None) is not None:
            names[layer.name]["bn"] = f"features.{index + 1}"
        index += 3 if "bn" in names[layer.name] else 2
    if parts[0] in names and len(parts) == 2:
        return names[parts[0]].get(parts[1])
    return {"fc1": "classifier.0", "fc2": "classifier.3",
            "predictions": "classifier.6"}.get(parts[0]) if len(parts) == 1 else None


_ALEXNET = {"conv1": "features.0", "conv2": "features.3", "conv3": "features.6",
            "conv4": "features.8", "conv5": "features.10", "fc1": "classifier.1",
            "fc2": "classifier.4", "predictions": "classifier.6"}


def _alexnet_module(parts, model):
    if len(parts) == 2 and parts[1] == "conv":
        return _ALEXNET.get(parts[0])
    return _ALEXNET.get(parts[0]) if len(parts) == 1 else None


_MODULES = {"resnet": _resnet_module, "googlenet": _googlenet_module, "vgg": _vgg_module,
            "alexnet": _alexnet_module}
# Dense layers after a flatten, and the channels of the map they flatten.
_FLATTENED = {"vgg": {"fc1": 512}, "alexnet": {"fc1": 256},
              "googlenet": {"aux1/fc1": 128, "aux2/fc1": 128}}


# --- layouts ------------------------------------------------------------------------------

def _conv(a):
    return np.transpose(a, (2, 3, 1, 0))


def _dense(a):
    return np.transpose(a)


def _flattened_dense(channels, n_in):
    """torchvision flattens (C, H, W), kcnn (H, W, C): reorder the dense inputs."""
    side = math.isqrt(n_in // channels)
    if side * side * channels != n_in:
        return None

    def convert(a):
        out = a.shape[0]
        a = a.reshape(out, channels, side, side)
        return np.transpose(a, (2, 3, 1, 0)).reshape(n_in, out)
    return convert


def _identity(a):
    return a


def torchvision_targets(model, family=None):
    """One `Target` per weight of `model`: its torchvision key, shape and conversion.

    Args:
        model: a kcnn model of one of `FAMILIES`.
        family: str or None. The family; found from the layer names when None.

    Returns:
        A list of `Target`s (a weight with no torchvision name has `key=None`).
    """
    family = family or family_of(model)
    module_of, flattened = _MODULES[family], _FLATTENED.get(family, {})
    targets = []
    for variable in model.weights:
        parts = variable.path.split("/")
        layer, leaf = parts[:-1], parts[-1]
        module = module_of(layer, model) if layer else None
        shape = tuple(variable.shape)
        key = f"{module}.{_VARIABLES[leaf]}" if module and leaf in _VARIABLES else None
        convert, source_shape = _identity, shape
        if leaf == "kernel" and len(shape) == 4:
            convert, source_shape = _conv, (shape[3], shape[2], shape[0], shape[1])
        elif leaf == "kernel" and len(shape) == 2:
            convert, source_shape = _dense, (shape[1], shape[0])
            channels = flattened.get("/".join(layer))
            if channels:
                convert = _flattened_dense(channels, shape[0])
                if convert is None:   # not a square map: nothing in the file can fit
                    convert, key = _identity, None
        targets.append(Target(variable.path, key, source_shape, convert, "/".join(layer)))
    return targets


def _check_form(model, family):
    """Refuses kcnn forms whose weights have torchvision's shapes but not its outputs."""
    if family == "resnet":
        for layer in model.layers:
            if isinstance(layer, ResidualBlock) and layer.kind == "bottleneck" \
                    and layer.stride_in_1x1:
                raise ValueError(
                    f"model {model.name!r} puts the bottleneck stride on the 1×1 "
                    "(stride_in_1x1=True, ResNet v1); torchvision's ResNet weights are "
                    "for v1.5 (stride_in_1x1=False).")
    if family == "googlenet":
        from kcnn.models.googlenet import is_torchvision_form
        if not is_torchvision_form(model):
            raise ValueError(
                f"model {model.name!r} is not torchvision's GoogLeNet (its pools, BatchNorm "
                "epsilon and auxiliary pooling differ); build it with "
                "kcnn.models.googlenet(form='torchvision').")


def load_torchvision(model, state_dict, *, strict=True, source="the torchvision weights"):
    """Loads a torchvision state dict into a kcnn model, all or nothing.

    Args:
        model: a kcnn ResNet-18…152, VGG (with or without `_bn`), AlexNet or GoogLeNet
            (torchvision form) `keras.Model`.
        state_dict: dict of torchvision names -> NumPy arrays (a reader's output).
        strict: bool. With `True` (default), any kcnn weight left unfilled, any tensor
            unused or mis-shaped raises `WeightsMismatchError` (a `ValueError`) naming
            them all, and nothing is assigned. With `False`, every layer that matches
            completely is loaded and the rest reported (a new head: `num_classes` other
            than the file's, `include_top=False`).
        source: str. Names the weights in messages (a file name).

    torchvision's GoogLeNet file holds the auxiliary heads (`aux1.*`, `aux2.*`); into a
    model built without `aux_logits` they are dropped, as torchvision does, not reported.

    Returns:
        A `kcnn.weights._convert.LoadReport`.

    Raises:
        ValueError: the model is not a torchvision architecture, or the weights do not fit.
    """
    family = family_of(model)
    _check_form(model, family)
    targets = torchvision_targets(model, family)
    bn_prefixes = {t.key.rsplit(".", 1)[0] for t in targets
                   if t.key and t.key.endswith(".running_mean")}
    skip = [k for k in state_dict if k.endswith(".num_batches_tracked")
            and k.rsplit(".", 1)[0] in bn_prefixes]
    if family == "googlenet":
        # torchvision's googlenet file holds the auxiliary heads; like torchvision's
        # googlenet(weights=..., aux_logits=False), a model without them drops them.
        names = {layer.name for layer in model.layers}
        skip += [k for k in state_dict if k.split(".", 1)[0] in {"aux1", "aux2"} - names]
    return load(model, targets, state_dict, strict=strict, skip=skip, source=source,
                what=f"{model.name!r} model")
