"""Argument checks and heads shared by the builders.

Every builder hands all its arguments to `check_args` before it builds a layer, so a bad
one costs microseconds and names itself: `TypeError` for a value of the wrong type
(`include_top="no"`, `num_classes=2.5`, `name=None`), `ValueError` for one of the right type
out of range (`num_classes=0`, `pooling="mean"`). `ARGUMENTS` says how each argument name is
checked; a builder's own choices (`shortcut`, `backbone`, ...) come in `choices`, and an
argument with neither is a programming error, so a new one cannot go unchecked.

Sizes are bounded before anything is allocated, with limits far above any use of these
architectures (a build past them would need tens of GiB or more for one tensor):

- `num_classes` <= `MAX_NUM_CLASSES` = 1,000,000: 45× ImageNet-21k's 21,841 classes. With
  VGG's 4096 features such a head holds 4.1e9 weights, still under the layer limit below.
- an image of `input_shape` holds at most `MAX_INPUT_VALUES` = 2**30 values (height × width
  × channels; 4 GiB of float32 for one image): 16384×16384×4 is allowed, 65536×65536×1 not.
  Unknown heights and widths count as the architecture's minimum.
- one layer holds at most `MAX_LAYER_WEIGHTS` = 2**32 weights (16 GiB of float32, 42× VGG's
  largest layer, fc1, at 224×224): this bounds the dense heads that follow the input size
  (VGG-16 with `include_top=True` up to about 1400×1400; 1024×1024 gives 2.1e9 weights in
  fc1) and FCN's upsampler, whose kernel grows with the square of `num_classes` (up to 1024
  classes). `check_layer_size` applies it just before such a layer is created.
"""

import math
import numbers

import keras

POOLING_CHOICES = (None, "avg", "max")
MAX_NUM_CLASSES = 1_000_000
MAX_INPUT_VALUES = 2**30
MAX_LAYER_WEIGHTS = 2**32


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _type_error(model, arg, value, expected):
    return TypeError(f"{model}: `{arg}` must be {expected}; got {arg}={value!r} "
                     f"(a {type(value).__name__}).")


def _check_bool(model, arg, value):
    if not isinstance(value, bool):
        raise _type_error(model, arg, value, "True or False")
    return value


def _check_num_classes(model, arg, value):
    if not _is_int(value):
        raise _type_error(model, arg, value, "an int >= 1")
    if not 1 <= value <= MAX_NUM_CLASSES:
        raise ValueError(f"{model}: `{arg}` must be an int >= 1 and at most "
                         f"{MAX_NUM_CLASSES:,}; got {arg}={value!r}.")
    return int(value)


def _check_rate(model, arg, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _type_error(model, arg, value, "a float in [0, 1)")
    if not 0 <= value < 1:  # NaN fails too
        raise ValueError(f"{model}: `{arg}` must be a float in [0, 1); got {arg}={value!r}.")
    return float(value)


def _check_activation(model, arg, value, optional):
    if value is None and optional:
        return value
    if isinstance(value, str):
        try:
            keras.activations.get(value)
        except ValueError:
            raise ValueError(f"{model}: unknown `{arg}`={value!r}; give the name of a Keras "
                             "activation such as 'relu' or 'softmax', or a callable.") from None
        return value
    if not callable(value):
        raise _type_error(model, arg, value, "the name of a Keras activation or a callable"
                          + (", or None" if optional else ""))
    return value


def _check_name(model, arg, value):
    if not isinstance(value, str):
        raise _type_error(model, arg, value, "a string")
    if not value or "/" in value:
        raise ValueError(f"{model}: `{arg}` must be a non-empty string without '/'; "
                         f"got {arg}={value!r}.")
    return value


def _check_choice(model, arg, value, choices):
    # Equal and of the same type: 0 is not False, 3.0 is not 3.
    if any(type(value) is type(c) and value == c for c in choices):
        return value
    message = (f"{model}: `{arg}` must be one of {', '.join(repr(c) for c in choices)}; "
               f"got {arg}={value!r}.")
    if type(value) not in {type(c) for c in choices}:
        raise TypeError(message)
    raise ValueError(message)


def _check_weights(model, arg, value):
    # kcnn.weights sits above the builders; its catalogue imports neither Keras nor NumPy.
    from kcnn.weights import pretrained
    return pretrained.check_weights(model, value)


# How each argument that several builders share is checked: name → check(model, arg, value).
ARGUMENTS = {
    "num_classes": _check_num_classes,
    "include_top": _check_bool,
    "aux_logits": _check_bool,
    "batch_norm": _check_bool,
    "stride_in_1x1": _check_bool,
    "transform_input": _check_bool,
    "pooling": lambda m, a, v: _check_choice(m, a, v, POOLING_CHOICES),
    "classifier_activation": lambda m, a, v: _check_activation(m, a, v, optional=True),
    "activation": lambda m, a, v: _check_activation(m, a, v, optional=False),
    "dropout": _check_rate,
    "name": _check_name,
    "weights": _check_weights,
}


def _check_input_shape(model, value, min_size):
    if not isinstance(value, (tuple, list)) or not (
            all(d is None or _is_int(d) for d in value[:2]) and all(map(_is_int, value[2:]))):
        raise _type_error(model, "input_shape", value, "a tuple of 3 ints (height, width, "
                          "channels); height and width may be None (any size)")
    if len(value) != 3:
        raise ValueError(
            f"{model}: `input_shape` must be a tuple of 3 ints (height, width, channels), "
            f"height and width may be None (any size); got input_shape={value!r}.")
    shape = tuple(None if d is None else int(d) for d in value)
    if any(d is not None and d < min_size for d in shape[:2]):
        raise ValueError(
            f"{model}: `input_shape`={shape!r} is too small; the minimum height and width "
            f"for this architecture is {min_size}.")
    if shape[2] < 1:
        raise ValueError(f"{model}: `input_shape` must have at least 1 channel; got "
                         f"input_shape={shape!r}.")
    values = math.prod(min_size if d is None else d for d in shape)
    if values > MAX_INPUT_VALUES:
        raise ValueError(
            f"{model}: `input_shape`={shape!r} holds {values:,} values per image, over the "
            f"limit of {MAX_INPUT_VALUES:,} (2**30, 4 GiB of float32 for one image); give a "
            "smaller size, or tile the image.")
    return shape


def check_args(model, *, min_size, choices=None, optional=(), **arguments):
    """Validates every argument of a builder before it builds a layer.

    Args:
        model: str. The builder's registered name, for the messages.
        min_size: int. The smallest height and width the architecture accepts.
        choices: dict or None. The builder's own arguments that take one of a few values:
            name → tuple of the allowed values (compared by type and value, so `0` is not
            `False`). Defaults to `None`.
        optional: tuple of str. Arguments checked by `ARGUMENTS` that may also be `None`,
            meaning "the builder's default for the other arguments" (googlenet's
            `batch_norm` and `dropout` follow its `form`). Defaults to `()`.
        **arguments: every argument of the builder, by name: each is checked by its entry
            in `ARGUMENTS` or `choices`, and `input_shape` must be `(height, width,
            channels)`, where height and width may be `None` (any size, known when the
            model is called; see `check_fixed_size` for the builders that cannot take that).

    Returns:
        `input_shape` as a tuple of ints (height and width may be `None`).

    Raises:
        TypeError: for an argument of the wrong type.
        ValueError: for an argument out of range, or a size over the limits of this module.
        LookupError: for an argument that no check covers (a mistake in the builder).
    """
    choices = choices or {}
    for arg, value in arguments.items():
        if value is None and arg in optional:
            continue
        if arg in choices:
            _check_choice(model, arg, value, choices[arg])
        elif arg in ARGUMENTS:
            ARGUMENTS[arg](model, arg, value)
        elif arg != "input_shape":
            raise LookupError(f"{model}: no check for its argument `{arg}`: add one to "
                              "ARGUMENTS in kcnn/models/_common.py or pass its `choices`.")
    return _check_input_shape(model, arguments["input_shape"], min_size)


def prepare_weights(model, weights, include_top, **arguments):
    """The weights file of a build and the form arguments it needs, before any layer.

    Builders stay topology only: `kcnn.weights.pretrained` finds (downloads) the file and
    says which of `arguments` (form arguments as given, `None` for "the default") the
    weights' network fixes, refusing a contradicting one.

    Returns:
        `(prepared, arguments)`: `prepared` is None when `weights` is None (and
        `arguments` are returned as given).
    """
    if weights is None:
        return None, arguments
    from kcnn.weights import pretrained
    return pretrained.prepare(model, weights, include_top=include_top, arguments=arguments)


def load_weights(model, prepared, include_top, num_classes):
    """Loads `prepared` (from `prepare_weights`) into the built `model`; returns it."""
    if prepared is None:
        return model
    return prepared.load(model, include_top=include_top, num_classes=num_classes)


DENSE_HEAD = "the dense head (include_top=True; include_top=False takes any size)"


def check_fixed_size(model, input_shape, reason=DENSE_HEAD):
    """Raises `ValueError` if `input_shape` (checked by `check_args`) leaves the height or
    width unknown, for a model whose part `reason` needs them."""
    if None in input_shape[:2]:
        raise ValueError(
            f"{model}: `input_shape`={tuple(input_shape)!r} leaves the height or width "
            f"unknown, but {reason} needs a fixed input size; give both."
        )


def check_layer_size(model, layer, shape, arg, value, hint=""):
    """Raises `ValueError` before a layer whose kernel has `shape` is created, if it would
    hold more than `MAX_LAYER_WEIGHTS` weights; the message names `arg`=`value`, the
    argument that makes it so large, and adds `hint`."""
    weights = math.prod(shape)
    if weights > MAX_LAYER_WEIGHTS:
        dims = " × ".join(f"{d:,}" for d in shape)
        raise ValueError(
            f"{model}: with `{arg}`={value!r} its layer {layer!r} would hold {weights:,} "
            f"weights ({dims}), over the limit of {MAX_LAYER_WEIGHTS:,} (2**32, 16 GiB of "
            f"float32) for one layer.{' ' + hint if hint else ''}")


def check_dense_head(model, x, units, layer, input_shape):
    """`check_layer_size` for a dense layer on the flattened map `x`, whose size follows
    the input size."""
    check_layer_size(model, layer, (x.shape[-1], units), "input_shape", input_shape,
                     "The dense head grows with the input size: give a smaller input_shape, "
                     "or include_top=False (any size).")


def global_pool(x, pooling, name="pool"):
    """Applies `pooling` ("avg", "max" or None) over the spatial axes."""
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name=f"{name}_avg")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name=f"{name}_max")(x)
    return x


def classifier(model, x, num_classes, classifier_activation, name="predictions"):
    """The final dense layer of `model`; `classifier_activation=None` gives logits."""
    check_layer_size(model, name, (x.shape[-1], num_classes), "num_classes", num_classes)
    return keras.layers.Dense(num_classes, activation=classifier_activation, name=name)(x)
