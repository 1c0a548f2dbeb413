"""Argument checks and heads shared by the builders."""

import keras

POOLING_CHOICES = (None, "avg", "max")


def check_args(model, *, input_shape, num_classes, pooling, min_size,
               classifier_activation=None):
    """Validates the arguments every builder takes; raises `ValueError`.

    Args:
        model: str. The builder's name, for the messages.
        input_shape: the user's `input_shape`; must be `(height, width, channels)`,
            where height and width may be `None` (any size, known when the model is
            called; see `check_fixed_size` for the builders that cannot take that).
        num_classes: the user's `num_classes`; an int >= 1.
        pooling: the user's `pooling`; one of `None`, `"avg"`, `"max"`.
        min_size: int. The smallest height and width the architecture accepts.
        classifier_activation: str, callable or None; checked by Keras.

    Returns:
        `input_shape` as a tuple of ints (height and width may be `None`).
    """
    def is_int(d):
        return isinstance(d, int) and not isinstance(d, bool)

    if (not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3
            or not all(d is None or is_int(d) for d in input_shape[:2])
            or not is_int(input_shape[2])):
        raise ValueError(
            f"{model}: `input_shape` must be a tuple of 3 ints (height, width, channels), "
            f"height and width may be None (any size); got input_shape={input_shape!r}."
        )
    height, width, channels = input_shape
    if any(d is not None and d < min_size for d in (height, width)):
        raise ValueError(
            f"{model}: `input_shape`={tuple(input_shape)!r} is too small; the minimum "
            f"height and width for this architecture is {min_size}."
        )
    if channels < 1:
        raise ValueError(
            f"{model}: `input_shape` must have at least 1 channel; got input_shape="
            f"{tuple(input_shape)!r}."
        )
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            f"{model}: `num_classes` must be an int >= 1; got num_classes={num_classes!r}."
        )
    if pooling not in POOLING_CHOICES:
        raise ValueError(
            f"{model}: `pooling` must be one of None, 'avg', 'max'; got pooling={pooling!r}."
        )
    if classifier_activation is not None:
        try:
            keras.activations.get(classifier_activation)
        except (ValueError, TypeError) as e:
            raise ValueError(
                f"{model}: unknown `classifier_activation`={classifier_activation!r}."
            ) from e
    return tuple(input_shape)


DENSE_HEAD = "the dense head (include_top=True; include_top=False takes any size)"


def check_fixed_size(model, input_shape, reason=DENSE_HEAD):
    """Raises `ValueError` if `input_shape` (checked by `check_args`) leaves the height or
    width unknown, for a model whose part `reason` needs them."""
    if None in input_shape[:2]:
        raise ValueError(
            f"{model}: `input_shape`={tuple(input_shape)!r} leaves the height or width "
            f"unknown, but {reason} needs a fixed input size; give both."
        )


def check_choice(model, arg, value, choices):
    """Raises `ValueError` unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(
            f"{model}: `{arg}` must be one of {', '.join(repr(c) for c in choices)}; "
            f"got {arg}={value!r}."
        )


def check_rate(model, arg, value):
    """Raises `ValueError` unless `value` is a float in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{model}: `{arg}` must be a float in [0, 1); got {arg}={value!r}.")


def global_pool(x, pooling, name="pool"):
    """Applies `pooling` ("avg", "max" or None) over the spatial axes."""
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name=f"{name}_avg")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name=f"{name}_max")(x)
    return x


def classifier(x, num_classes, classifier_activation, name="predictions"):
    """The final dense layer; `classifier_activation=None` gives logits."""
    return keras.layers.Dense(num_classes, activation=classifier_activation, name=name)(x)
