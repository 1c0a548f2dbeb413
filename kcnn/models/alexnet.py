"""AlexNet (Krizhevsky et al., 2012): torchvision's single tower and the paper's two towers."""

import keras

from kcnn.layers import ConvBlock, LocalResponseNormalization
from kcnn.models._common import (check_args, check_dense_head, check_fixed_size, classifier,
                                 global_pool, load_weights, prepare_weights)
from kcnn.models._registry import model_info, register_model
from kcnn.models.features import register_features


def _head(model, x, *, input_shape, include_top, pooling, num_classes, classifier_activation,
          dropout):
    if not include_top:
        return global_pool(x, pooling)
    x = keras.layers.Flatten(name="flatten")(x)
    check_dense_head(model, x, 4096, "fc1", input_shape)
    for i in (1, 2):
        x = keras.layers.Dropout(dropout, name=f"fc{i}_dropout")(x)
        x = keras.layers.Dense(4096, activation="relu", name=f"fc{i}")(x)
    return classifier(model, x, num_classes, classifier_activation)


@register_model
def alexnet(*, input_shape=(224, 224, 3), num_classes=1000, include_top=True, pooling=None,
            classifier_activation=None, dropout=0.5, weights=None, name="alexnet"):
    """AlexNet, single tower, as torchvision. 61,100,840 parameters with the 1000-class head.

    conv 64@11×11/4 (pad 2) → pool → conv 192@5×5 → pool → conv 384, 256, 256 @3×3
    → pool → dense 4096 → dense 4096 → dense `num_classes`, dropout before each hidden
    dense layer. torchvision's widths (one tower, no LRN). torchvision resizes the last
    map to 6×6 with an adaptive pool; here the map is 6×6 at 224×224 and the dense
    layers follow the input size otherwise.

    Args:
        input_shape: tuple of 3 ints. At least 63×63; height and width may be `None`
            (any size) with `include_top=False`. Defaults to `(224, 224, 3)`.
        num_classes: int. Defaults to 1000.
        include_top: bool. Include the dense layers. Defaults to `True`.
        pooling: None, "avg" or "max". Global pooling when `include_top=False`.
        classifier_activation: activation of the output layer; `None` gives logits.
        dropout: float. Dropout rate before the hidden dense layers. Defaults to 0.5.
        weights: None, "torchvision" (or "torchvision:TAG") or the path of a weights
            file: see `kcnn.weights.pretrained` (`include_top=False` loads the body,
            another `num_classes` the body and a fresh head; the dense head's weights
            need 224×224). Defaults to `None`.
        name: str. Model name. Defaults to `"alexnet"`.

    Returns:
        A `keras.Model`.
    """
    input_shape = check_args(
        "alexnet", min_size=model_info("alexnet").min_input_size, input_shape=input_shape,
        num_classes=num_classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, dropout=dropout, weights=weights,
        name=name)
    if include_top:
        check_fixed_size("alexnet", input_shape)
    pretrained, _ = prepare_weights("alexnet", weights, include_top)
    inputs = keras.Input(shape=input_shape, name="image")
    x = ConvBlock(64, 11, strides=4, padding=2, name="conv1")(inputs)      # 55×55×64
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1")(x)            # 27×27×64
    x = ConvBlock(192, 5, padding=2, name="conv2")(x)                       # 27×27×192
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool2")(x)            # 13×13×192
    x = ConvBlock(384, 3, padding=1, name="conv3")(x)
    x = ConvBlock(256, 3, padding=1, name="conv4")(x)
    x = ConvBlock(256, 3, padding=1, name="conv5")(x)                       # 13×13×256
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool5")(x)            # 6×6×256
    x = _head("alexnet", x, input_shape=input_shape, include_top=include_top,
              pooling=pooling, num_classes=num_classes,
              classifier_activation=classifier_activation, dropout=dropout)
    return load_weights(keras.Model(inputs, x, name=name), pretrained, include_top,
                        num_classes)


@register_model
def alexnet_paper(*, input_shape=(227, 227, 3), num_classes=1000, include_top=True,
                  pooling=None, classifier_activation=None, dropout=0.5,
                  name="alexnet_paper"):
    """AlexNet as in the paper: two towers. 60,965,224 parameters with the 1000-class head.

    The paper split conv2, conv4 and conv5 across two GPUs: here they are grouped
    convolutions with `groups=2` (conv3 and the dense layers see both towers). Widths
    96-256-384-384-256, LRN (k=2, n=5, α=1e-4, β=0.75) after conv1 and conv2,
    overlapping 3×3/2 max pools, input 227×227 (the paper's "224" does not give its
    55×55 maps). Not reproduced: the paper's initialization (biases of 1 in conv2,
    conv4, conv5 and the dense layers).

    Args:
        input_shape: tuple of 3 ints. At least 67×67; height and width may be `None`
            (any size) with `include_top=False`. Defaults to `(227, 227, 3)`.
        num_classes: int. Defaults to 1000.
        include_top: bool. Include the dense layers. Defaults to `True`.
        pooling: None, "avg" or "max". Global pooling when `include_top=False`.
        classifier_activation: activation of the output layer; `None` gives logits.
        dropout: float. Dropout rate before the hidden dense layers. Defaults to 0.5.
        name: str. Model name. Defaults to `"alexnet_paper"`.

    Returns:
        A `keras.Model`.
    """
    input_shape = check_args(
        "alexnet_paper", min_size=model_info("alexnet_paper").min_input_size,
        input_shape=input_shape, num_classes=num_classes, include_top=include_top,
        pooling=pooling, classifier_activation=classifier_activation, dropout=dropout,
        name=name)
    if include_top:
        check_fixed_size("alexnet_paper", input_shape)
    inputs = keras.Input(shape=input_shape, name="image")
    x = ConvBlock(96, 11, strides=4, padding="valid", name="conv1")(inputs)  # 55×55×96
    x = LocalResponseNormalization(name="lrn1")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1")(x)              # 27×27×96
    x = ConvBlock(256, 5, padding=2, groups=2, name="conv2")(x)               # 27×27×256
    x = LocalResponseNormalization(name="lrn2")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool2")(x)              # 13×13×256
    x = ConvBlock(384, 3, padding=1, name="conv3")(x)
    x = ConvBlock(384, 3, padding=1, groups=2, name="conv4")(x)
    x = ConvBlock(256, 3, padding=1, groups=2, name="conv5")(x)               # 13×13×256
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool5")(x)              # 6×6×256
    x = _head("alexnet_paper", x, input_shape=input_shape, include_top=include_top,
              pooling=pooling, num_classes=num_classes,
              classifier_activation=classifier_activation, dropout=dropout)
    return keras.Model(inputs, x, name=name)


# Feature stages: the last map at strides 4, 8 and 16 (before the LRN of the paper's
# layout), and pool5 (32).
register_features({name: [(n, n) for n in ("conv1", "conv2", "conv5", "pool5")]
                   for name in ("alexnet", "alexnet_paper")})
