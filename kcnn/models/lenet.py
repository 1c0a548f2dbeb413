"""LeNet-5 (LeCun et al., 1998), in its common modern form."""

import keras

from kcnn.models._common import (check_args, check_dense_head, check_fixed_size, classifier,
                                 global_pool)
from kcnn.models._registry import model_info, register_model
from kcnn.models.features import register_features


@register_model
def lenet5(*, input_shape=(32, 32, 1), num_classes=10, include_top=True, pooling=None,
           classifier_activation=None, activation="tanh", subsampling="avg",
           name="lenet5"):
    """LeNet-5 (LeCun et al., 1998). 61,706 parameters with the 10-class head at 32×32×1.

    C1 conv 6@5×5 → S2 pool 2 → C3 conv 16@5×5 → S4 pool 2 → F5 dense 120 → F6 dense 84
    → output dense `num_classes`.

    Deviations from the paper, all as in the common modern form: C3 connects to all six
    S2 maps (the paper used a sparse connection table); S2/S4 are plain pooling layers
    (the paper's subsampling had a trainable coefficient and bias per map); C5 is a
    dense layer (equal to the paper's 5×5 convolution at 32×32 input); tanh replaces
    the scaled tanh; a dense layer replaces the Euclidean RBF output.

    Args:
        input_shape: tuple of 3 ints. At least 16×16; height and width may be `None`
            (any size) with `include_top=False`. Defaults to `(32, 32, 1)`.
        num_classes: int. Number of classes. Defaults to 10.
        include_top: bool. Include F5, F6 and the output layer. Defaults to `True`.
        pooling: None, "avg" or "max". Global pooling when `include_top=False`.
        classifier_activation: activation of the output layer; `None` gives logits.
        activation: str. Activation of the hidden layers. Defaults to `"tanh"`.
        subsampling: "avg" (as the paper) or "max". Defaults to `"avg"`.
        name: str. Model name. Defaults to `"lenet5"`.

    Returns:
        A `keras.Model`.

    Example:
    >>> model = kcnn.models.lenet5()
    >>> model.output_shape
    (None, 10)
    """
    input_shape = check_args(
        "lenet5", min_size=model_info("lenet5").min_input_size,
        choices={"subsampling": ("avg", "max")}, input_shape=input_shape,
        num_classes=num_classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, activation=activation,
        subsampling=subsampling, name=name)
    if include_top:
        check_fixed_size("lenet5", input_shape)
    pool = keras.layers.AveragePooling2D if subsampling == "avg" else keras.layers.MaxPooling2D

    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Conv2D(6, 5, activation=activation, name="c1")(inputs)  # 28×28×6
    x = pool(2, name="s2")(x)                                                # 14×14×6
    x = keras.layers.Conv2D(16, 5, activation=activation, name="c3")(x)      # 10×10×16
    x = pool(2, name="s4")(x)                                                # 5×5×16
    if include_top:
        x = keras.layers.Flatten(name="flatten")(x)                          # 400
        check_dense_head("lenet5", x, 120, "f5", input_shape)
        x = keras.layers.Dense(120, activation=activation, name="f5")(x)
        x = keras.layers.Dense(84, activation=activation, name="f6")(x)
        x = classifier("lenet5", x, num_classes, classifier_activation)
    else:
        x = global_pool(x, pooling)
    return keras.Model(inputs, x, name=name)


# Feature stages: both convolutions and both subsamplings.
register_features({"lenet5": [(n, n) for n in ("c1", "s2", "c3", "s4")]})
