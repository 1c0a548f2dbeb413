"""Model registry: every builder registers itself by name."""

import difflib
import fnmatch

_MODELS = {}


def register_model(builder):
    """Registers a builder under its function name and returns it unchanged."""
    name = builder.__name__
    if name in _MODELS:
        raise ValueError(f"A model named {name!r} is already registered.")
    _MODELS[name] = builder
    return builder


def list_models(pattern=None):
    """Names of the registered models, sorted.

    Args:
        pattern: str or None. A shell-style wildcard such as `"resnet*"`;
            `None` lists every model. Defaults to `None`.

    Returns:
        A sorted list of model names.

    Example:
    >>> kcnn.models.list_models("vgg1?")
    ['vgg11', 'vgg13', 'vgg16', 'vgg19']
    """
    names = sorted(_MODELS)
    if pattern is None:
        return names
    if not isinstance(pattern, str):
        raise ValueError(
            f"`pattern` must be a string such as 'resnet*' or None; got {pattern!r}."
        )
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def get_model(name, **kwargs):
    """Builds a registered model by name.

    Args:
        name: str. A name from `list_models()`.
        **kwargs: passed to the builder (`input_shape`, `num_classes`, ...).

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: if `name` is not registered; the message suggests close names.
    """
    if name not in _MODELS:
        close = difflib.get_close_matches(str(name), list(_MODELS), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"Unknown model name={name!r}.{hint} "
            f"Known models: {', '.join(sorted(_MODELS))}."
        )
    return _MODELS[name](**kwargs)
