"""keras.applications VGG16/VGG19 weights (with and without top) -> kcnn vgg16/vgg19.

keras.applications' VGGs are channels-last like kcnn's, and their `Flatten` after
`block5_pool` flattens (H, W, C) as kcnn's does, so the tensors go across unchanged; only
the names differ. keras.applications names its layers `block{b}_conv{c}`, `fc1`, `fc2`,
`predictions`, as kcnn does; in the legacy `.h5` weight files each layer's tensors are
named `<layer>_W_1:0` and `<layer>_b_1:0` (Keras 1), in newer files `kernel` and `bias`.
This module accepts either, with or without the layer's group in front
("block1_conv1/block1_conv1_W_1:0", "block1_conv1/kernel:0", "block1_conv1_W_1:0").

keras.applications' `predictions` has a softmax; kcnn's gives logits unless the model is
built with `classifier_activation="softmax"`.
"""

import re

from kcnn.weights._convert import Target, load

_ROLE = (("kernel", re.compile(r"(?:(?P<layer>.+)_)?(?:W|kernel)(?:_\d+)?(?::\d+)?")),
         ("bias", re.compile(r"(?:(?P<layer>.+)_)?(?:b|bias)(?:_\d+)?(?::\d+)?")))


def _parse(key):
    """`(layer, "kernel" | "bias")` for a keras.applications tensor name, or None."""
    parts = key.split("/")
    for role, pattern in _ROLE:
        m = pattern.fullmatch(parts[-1])
        if m:
            layer = parts[0] if len(parts) > 1 else m["layer"]
            return (layer, role) if layer else None
    return None


def _identity(a):
    return a


def keras_targets(model):
    """One `Target` per weight of a kcnn vgg16/vgg19: its keras.applications name (the
    `(layer, role)` pair, resolved against a file's names by `load_keras`)."""
    targets = []
    for variable in model.weights:
        parts = variable.path.split("/")
        leaf, layer = parts[-1], parts[0]
        ok = leaf in ("kernel", "bias") and (len(parts) == 2 or parts[1:-1] == ["conv"])
        targets.append(Target(variable.path, (layer, leaf) if ok else None,
                              tuple(variable.shape), _identity, "/".join(parts[:-1])))
    return targets


def _check_model(model):
    names = {layer.name for layer in model.layers}
    if "block1_conv1" not in names or any(
            getattr(layer, "bn", None) is not None for layer in model.layers):
        raise ValueError(
            f"model {model.name!r} is not a kcnn vgg16 or vgg19 without BatchNorm; "
            "keras.applications publishes VGG weights for those only.")


def load_keras(model, weights, *, strict=True, source="the keras.applications weights"):
    """Loads keras.applications VGG16/VGG19 weights into a kcnn vgg16/vgg19, all or nothing.

    Args:
        model: a kcnn `vgg16` or `vgg19` `keras.Model` (`include_top=False` for the
            `_notop` files).
        weights: dict of keras.applications tensor names -> NumPy arrays (a reader's
            output; see the module docstring for the names accepted).
        strict: bool. With `True` (default), any kcnn weight left unfilled, any tensor
            unused or mis-shaped raises `WeightsMismatchError` (a `ValueError`) naming
            them all, and nothing is assigned. With `False`, every layer that matches
            completely is loaded and the rest reported.
        source: str. Names the weights in messages (a file name).

    Returns:
        A `kcnn.weights._convert.LoadReport`.
    """
    _check_model(model)
    index, ambiguous = {}, []
    for key in weights:
        parsed = _parse(key)
        if parsed is None:
            continue
        if parsed in index:
            ambiguous.append(key)
        index.setdefault(parsed, key)
    if ambiguous:
        raise ValueError(f"{source}: more than one tensor for the same layer and role: "
                         f"{', '.join(ambiguous[:10])}.")
    targets = [t if t.key is None else Target(t.path, index.get(t.key, "/".join(t.key)),
                                              t.source_shape, t.convert, t.unit)
               for t in keras_targets(model)]
    return load(model, targets, weights, strict=strict, source=source,
                what=f"{model.name!r} model")
