"""`feature_extractor`: a model's stage maps as outputs, as timm's `features_only`.

Each family file registers its stage table with `register_features`: for every model
name, its stages in order as `(stage name, layer name)`, the stage's map being that
layer's output (or, for a model that has no stages, a sentence saying why). The
`feature_info` of an extractor is computed from the graph by `kcnn.analysis`.
"""

import difflib
from typing import NamedTuple

import keras

from kcnn.analysis import summarize
from kcnn.models._info import RECORDS
from kcnn.models._registry import get_model, load_builder

_STAGES = {}


def register_features(table):
    """Registers stage tables: `{model name: ((stage, layer), ...) or a reason}`."""
    for name, stages in table.items():
        if name in _STAGES:
            raise ValueError(f"Feature stages of {name!r} are already registered.")
        _STAGES[name] = stages if isinstance(stages, str) else tuple(stages)


class FeatureStage(NamedTuple):
    """One output of a feature extractor.

    Attributes:
        name: str. The stage's name (`"stage3"`, `"block5"`, `"inception_4e"`).
        layer: str. The layer whose output the map is.
        channels: int. Channels of the map.
        stride: pair of ints (height, width). Input pixels between neighbouring units
            (timm's `reduction`; `jump` in `kcnn.analysis`).
        receptive_field: pair of ints. Input pixels that can change one unit, over
            every path of the graph.
        start: pair of numbers. Centre of the first unit's field in input pixels
            (negative inside the padding); `None` on an axis where it depends on the
            input size (after a strided "same" window, when the size is unknown).
    """
    name: str
    layer: str
    channels: int
    stride: tuple
    receptive_field: tuple
    start: tuple


class FeatureInfo(tuple):
    """The `FeatureStage`s of an extractor's outputs, in order; a tuple."""

    def names(self):
        return [s.name for s in self]

    def channels(self):
        return [s.channels for s in self]

    def strides(self):
        return [s.stride for s in self]

    def receptive_fields(self):
        return [s.receptive_field for s in self]


def feature_stages(name):
    """The stage names of a registered model, in order.

    Args:
        name: str. A registered model name.

    Returns:
        A list of str; empty for a model registered as having no stages (`fcn32s`).

    Raises:
        ValueError: if no stage table is registered under `name`.
    """
    if name not in _STAGES and name in RECORDS:
        load_builder(name)
    if isinstance(_STAGES.get(name), str):
        return []
    return [stage for stage, _ in _table(name, "name")]


def _table(name, arg):
    if name not in _STAGES and name in RECORDS:
        load_builder(name)  # its family module registers the table when first imported
    table = _STAGES.get(name)
    if isinstance(table, str):
        raise ValueError(f"feature_extractor: {name} has no feature stages: {table}.")
    if table is None:
        close = difflib.get_close_matches(str(name), list(_STAGES), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        if arg == "model":
            raise ValueError(
                f"feature_extractor: model {name!r} is not named as a registered model, so "
                f"its stages are unknown; pass `architecture=`, the name of the builder it "
                f"was built with (e.g. architecture='resnet50').{hint}")
        known = sorted(n for n, t in _STAGES.items() if not isinstance(t, str))
        raise ValueError(f"feature_extractor: unknown {arg}={name!r}.{hint} Models with "
                         f"feature stages: {', '.join(known)}.")
    return table


def _select(arch, table, stages):
    names = [stage for stage, _ in table]
    valid = f"valid stages of {arch}: 0 to {len(names) - 1} or {', '.join(map(repr, names))}"
    if stages is None:
        return list(range(len(names)))
    items = [stages] if isinstance(stages, (str, int)) else stages
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError(f"feature_extractor: `stages` must be None, a stage or a non-empty "
                         f"list of stages; got stages={stages!r}; {valid}.")
    chosen = []
    for item in items:
        if isinstance(item, str) and item in names:
            index = names.index(item)
        elif isinstance(item, int) and not isinstance(item, bool) and \
                -len(names) <= item < len(names):
            index = item % len(names)
        else:
            raise ValueError(f"feature_extractor: unknown stage {item!r} in stages="
                             f"{stages!r}; {valid}.")
        if index in chosen:
            raise ValueError(f"feature_extractor: stage {names[index]!r} is selected twice "
                             f"in stages={stages!r}.")
        chosen.append(index)
    return chosen


def feature_extractor(model_or_name, stages=None, *, architecture=None, **builder_kwargs):
    """A model whose outputs are the stage maps of a classic network, with `feature_info`.

    As timm's `features_only=True, out_indices=...`: one map per stage, from the stem to
    the last stage (one per stride for the ImageNet networks: 2, 4, 8, 16, 32). Stages:

    - ImageNet ResNets: `stem` (the 7×7/2 convolution, before the pool), `stage1`–`stage4`;
      CIFAR ResNets and plain nets: `stem`, `stage1`–`stage3` (strides 1, 1, 2, 4);
    - VGG: `block1`–`block5`, each ended by its 2×2/2 pool (strides 2 … 32);
    - GoogLeNet: `conv1` and `conv2` (the stem's stride-2 and stride-4 maps, as timm's
      Inception stages), `inception_3b`, `inception_4e`, `inception_5b` (the last map
      before each 3×3/2 pool, and the last);
    - AlexNet (both): `conv1`, `conv2`, `conv5` (the last map at strides 4, 8, 16) and
      `pool5` (32);
    - NiN: `mlpconv1`, `mlpconv2`, `pool2` (CIFAR; strides 1, 2, 4); `mlpconv1`–`mlpconv3`,
      `pool3` (ImageNet; 4, 8, 16, 32);
    - LeNet-5: `c1`, `s2`, `c3`, `s4`.

    `fcn32s` has none: its output is already a map (take its backbone's stages).

    A built model (e.g. a trained one) is not copied: the extractor calls the same
    layers, so it shares their weights. A name is built with `include_top=False`.

    Args:
        model_or_name: a `keras.Model` built by a kcnn builder, or a registered name.
        stages: None, a stage, or a list of stages, each a name or an index into the
            model's stages (negative counts from the end); the outputs follow its order.
            Defaults to `None`: every stage.
        architecture: str or None. For a built model whose name is not its builder's
            (`name=` was given): the registered name it was built with. Defaults to
            `None`: the model's name.
        **builder_kwargs: with a name only, passed to the builder (`input_shape`,
            `batch_norm`, ...); `input_shape=(None, None, 3)` gives an extractor for any
            size.

    Returns:
        A functional `keras.Model` named `<model name>_features`, with a list of maps
        as outputs (one map, not a list, when one stage is selected) and a
        `feature_info` attribute: a `FeatureInfo`, one `FeatureStage` (name, layer,
        channels, stride, receptive field, start) per output, from `kcnn.analysis` at
        the extractor's input shape. `feature_info` is not saved with the model.

    Raises:
        ValueError: for an unknown model or stage (the message lists the valid ones),
            builder arguments with a built model, or `include_top`/`pooling`.

    Example:
    >>> features = kcnn.models.feature_extractor("resnet18", input_shape=(None, None, 3))
    >>> [(s.name, s.channels, s.stride[0]) for s in features.feature_info][-2:]
    [('stage3', 256, 16), ('stage4', 512, 32)]
    """
    if isinstance(model_or_name, str):
        if architecture is not None:
            raise ValueError("feature_extractor: `architecture` is for a built model; with "
                             f"a name, it is the name ({model_or_name!r}).")
        for key in ("include_top", "pooling"):
            if key in builder_kwargs:
                raise ValueError(f"feature_extractor: `{key}` cannot be given: the model "
                                 "is built with include_top=False and no pooling.")
        arch = model_or_name
        table = _table(arch, "name")
        model = get_model(arch, include_top=False, **builder_kwargs)
    elif isinstance(model_or_name, keras.Model):
        if builder_kwargs:
            raise ValueError(f"feature_extractor: builder arguments "
                             f"({', '.join(sorted(builder_kwargs))}) are for a model name, "
                             f"not a built model.")
        model = model_or_name
        arch = model.name if architecture is None else architecture
        table = _table(arch, "model" if architecture is None else "architecture")
    else:
        raise TypeError(f"feature_extractor: `model_or_name` must be a keras.Model or a "
                        f"registered name; got {type(model_or_name).__name__}.")
    chosen = _select(arch, table, stages)
    layers = {}
    for stage, layer_name in table:
        try:
            layers[stage] = model.get_layer(layer_name)
        except ValueError:
            raise ValueError(
                f"feature_extractor: model {model.name!r} has no layer {layer_name!r} (stage "
                f"{stage!r} of {arch}); was it built by kcnn.models.{arch}?") from None
    picked = [table[i] for i in chosen]
    outputs = [layers[stage].output for stage, _ in picked]
    extractor = keras.Model(model.inputs[0], outputs if len(outputs) > 1 else outputs[0],
                            name=f"{model.name}_features")
    extractor.feature_info = _feature_info(extractor, picked, outputs)
    return extractor


def _feature_info(extractor, picked, outputs):
    rows = {row["name"]: row for row in summarize(extractor)}
    return FeatureInfo(
        FeatureStage(stage, layer, int(out.shape[-1]), rows[layer]["jump"],
                     rows[layer]["receptive_field"], rows[layer]["start"])
        for (stage, layer), out in zip(picked, outputs))
