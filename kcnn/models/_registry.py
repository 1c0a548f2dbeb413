"""Model registry: names and facts from `_info.RECORDS`, builders loaded on first use.

Listing models and reading their facts imports neither Keras nor the family modules; a
builder's module is imported when the builder is first asked for (`get_model`, or an
attribute of `kcnn.models`), and every builder registers itself there by name.
"""

import difflib
import fnmatch
import importlib
import re

from kcnn.models._info import RECORDS, ModelInfo

_MODELS = {}   # name → builder, filled as the family modules are imported
_EXTERNAL = {}  # name → ModelInfo of builders registered from outside kcnn


def register_model(builder=None, *, info=None):
    """Registers a builder under its function name and returns it unchanged.

    kcnn's own builders (those defined in `kcnn.models`) must have a record in
    `kcnn/models/_info.py`: registering one without it raises, so a new model cannot skip
    the facts that the tests and docs check. A builder from elsewhere may pass its own
    `ModelInfo`; without one, `model_info` reports only its name.

    Args:
        builder: callable. The builder; its `__name__` is the registered name. Omit it to
            use `register_model(info=...)` as a decorator.
        info: `ModelInfo` or None. Facts of a builder registered from outside kcnn.
            Defaults to `None`.

    Returns:
        `builder`, or a decorator when `builder` is omitted.

    Raises:
        ValueError: if the name is taken (by a kcnn model too, loaded or not), if a kcnn
            builder has no record or a record of another family, or if `info` names
            another model.
    """
    if builder is None:
        return lambda b: register_model(b, info=info)
    name = builder.__name__
    module = getattr(builder, "__module__", "") or ""
    if module.startswith("kcnn.models."):
        family = module.rsplit(".", 1)[1]
        record = RECORDS.get(name)
        if record is None:
            raise ValueError(
                f"{module}.{name} has no ModelInfo record: add one to kcnn/models/_info.py "
                "(input sizes, parameter count, MACs, paper, deviations).")
        if record.family != family:
            raise ValueError(f"{module}.{name}: its record in kcnn/models/_info.py says "
                             f"family={record.family!r}.")
        if info is not None:
            raise ValueError(f"{module}.{name}: kcnn's builders take their facts from "
                             "kcnn/models/_info.py, not from `info`.")
    elif name in RECORDS:
        raise ValueError(f"{name!r} is the name of a kcnn model; register {module}.{name} "
                         "under another name.")
    elif info is not None:
        if not isinstance(info, ModelInfo) or info.name != name:
            raise ValueError(f"`info` must be a ModelInfo with name={name!r}; got {info!r}.")
    if name in _MODELS:
        raise ValueError(f"A model named {name!r} is already registered.")
    if info is not None:
        _EXTERNAL[name] = info
    _MODELS[name] = builder
    return builder


def _natural_key(name):
    # 'resnet18' < 'resnet101'; 'vgg11' < 'vgg11_bn' < 'vgg13'. split() with a group puts
    # the text at even and the numbers at odd positions, so the types always line up.
    return [int(part) if i % 2 else part for i, part in enumerate(re.split(r"(\d+)", name))]


def list_models(pattern=None):
    """Names of the registered models, in natural order (resnet18 before resnet101).

    Imports no builder: the names come from the model records.

    Args:
        pattern: str or None. A shell-style wildcard such as `"resnet*"`;
            `None` lists every model. Defaults to `None`.

    Returns:
        A list of model names; empty if none matches `pattern`.

    Example:
    >>> kcnn.models.list_models("vgg1?")
    ['vgg11', 'vgg13', 'vgg16', 'vgg19']
    """
    if pattern is not None and not isinstance(pattern, str):
        raise ValueError(
            f"`pattern` must be a string such as 'resnet*' or None; got {pattern!r}."
        )
    names = sorted({*RECORDS, *_MODELS}, key=_natural_key)
    if pattern is None:
        return names
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def close_names(text, n=3):
    """Registered names close to `text` (for "did you mean" messages)."""
    return difflib.get_close_matches(str(text), list_models(), n=n, cutoff=0.5)


def _unknown(name):
    close = close_names(name)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return ValueError(
        f"Unknown model name={name!r}.{hint} Known models: {', '.join(list_models())}."
    )


def model_info(name):
    """The facts of a registered model, without building it or importing Keras.

    Args:
        name: str. A name from `list_models()`.

    Returns:
        A frozen `ModelInfo`: `default_input_shape`, `min_input_size`, `num_params`,
        `macs`, `paper`, `deviations`, `reference_accuracy`, `weights`, ...

    Raises:
        ValueError: if `name` is not registered; the message suggests close names.

    Example:
    >>> kcnn.models.model_info("lenet5").min_input_size
    16
    """
    if isinstance(name, str):
        if name in RECORDS:
            return RECORDS[name]
        if name in _EXTERNAL:
            return _EXTERNAL[name]
        if name in _MODELS:
            return ModelInfo(name=name)
    raise _unknown(name)


def load_builder(name):
    """The builder registered as `name`, importing its family module on first use."""
    if not (isinstance(name, str) and name in _MODELS):
        record = model_info(name)  # raises for unknown names
        importlib.import_module(f"kcnn.models.{record.family}")
    return _MODELS[name]


def get_model(name, /, **kwargs):
    """Builds a registered model by name.

    Args:
        name: str. A name from `list_models()` (positional, so that the builder's own
            `name` argument can be passed in `kwargs`).
        **kwargs: passed to the builder (`input_shape`, `num_classes`, `name`, ...).

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: if `name` is not registered; the message suggests close names.

    Example:
    >>> model = kcnn.models.get_model("resnet20", name="baseline")
    >>> model.name
    'baseline'
    """
    return load_builder(name)(**kwargs)
