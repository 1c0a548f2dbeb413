"""Network in Network (Lin et al., 2014): CIFAR-10 and ImageNet layouts."""

import keras

from kcnn.layers import NiNBlock
from kcnn.models._common import check_args, global_pool
from kcnn.models._registry import model_info, register_model
from kcnn.models.features import register_features


def _classifier_block(x, filters, kernel_size, num_classes, classifier_activation):
    # The last mlpconv outputs one map per class; global average pooling turns the maps
    # into class scores (no dense layer). Its ReLU is kept, as in the authors' Caffe model.
    x = NiNBlock((filters, filters, num_classes), kernel_size, name="classifier")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.layers.Activation(classifier_activation or "linear", name="predictions")(x)


@register_model
def nin(*, input_shape=(32, 32, 3), num_classes=10, include_top=True, pooling=None,
        classifier_activation=None, dropout=0.5, name="nin"):
    """Network in Network, CIFAR-10 layout. 966,986 parameters with the 10-class head.

    mlpconv 192-160-96 (5×5) → 3×3/2 max pool → dropout → mlpconv 192-192-192 (5×5)
    → 3×3/2 average pool → dropout → mlpconv 192-192-`num_classes` (3×3) → global
    average pooling. `include_top=False` stops before the last mlpconv, which is the
    classifier in the paper (one map per class).

    Args:
        input_shape: tuple of 3 ints. At least 4×4; height and width may be `None`
            (any size). Defaults to `(32, 32, 3)`.
        num_classes: int. Defaults to 10.
        include_top: bool. Include the last mlpconv and the global pooling.
        pooling: None, "avg" or "max". Global pooling when `include_top=False`.
        classifier_activation: activation after global pooling; `None` gives logits.
        dropout: float. Dropout rate between mlpconv blocks. Defaults to 0.5.
        name: str. Model name. Defaults to `"nin"`.

    Returns:
        A `keras.Model`.
    """
    input_shape = check_args(
        "nin", min_size=model_info("nin").min_input_size, input_shape=input_shape,
        num_classes=num_classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, dropout=dropout, name=name)
    inputs = keras.Input(shape=input_shape, name="image")
    x = NiNBlock((192, 160, 96), 5, name="mlpconv1")(inputs)                  # 32×32×96
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)  # 16×16
    x = keras.layers.Dropout(dropout, name="dropout1")(x)
    x = NiNBlock((192, 192, 192), 5, name="mlpconv2")(x)                       # 16×16×192
    x = keras.layers.AveragePooling2D(3, strides=2, padding="same", name="pool2")(x)  # 8×8
    x = keras.layers.Dropout(dropout, name="dropout2")(x)
    if include_top:
        x = _classifier_block(x, 192, 3, num_classes, classifier_activation)
    else:
        x = global_pool(x, pooling)
    return keras.Model(inputs, x, name=name)


@register_model
def nin_imagenet(*, input_shape=(224, 224, 3), num_classes=1000, include_top=True,
                 pooling=None, classifier_activation=None, dropout=0.5,
                 name="nin_imagenet"):
    """Network in Network, ImageNet layout. 7,595,176 parameters with the 1000-class head.

    mlpconv 96-96-96 (11×11/4) → pool → mlpconv 256-256-256 (5×5) → pool → mlpconv
    384-384-384 (3×3) → pool → dropout → mlpconv 1024-1024-`num_classes` (3×3) →
    global average pooling; pools are 3×3/2 max pools. The layout of the authors'
    released ImageNet model (the paper gives no ImageNet table); valid pooling here
    where Caffe rounds up, so maps are 54 → 26 → 12 → 5 at 224×224.

    Args:
        input_shape: tuple of 3 ints. At least 67×67; height and width may be `None`
            (any size). Defaults to `(224, 224, 3)`.
        num_classes: int. Defaults to 1000.
        include_top: bool. Include the last mlpconv and the global pooling.
        pooling: None, "avg" or "max". Global pooling when `include_top=False`.
        classifier_activation: activation after global pooling; `None` gives logits.
        dropout: float. Dropout rate before the last mlpconv. Defaults to 0.5.
        name: str. Model name. Defaults to `"nin_imagenet"`.

    Returns:
        A `keras.Model`.
    """
    input_shape = check_args(
        "nin_imagenet", min_size=model_info("nin_imagenet").min_input_size,
        input_shape=input_shape, num_classes=num_classes, include_top=include_top,
        pooling=pooling, classifier_activation=classifier_activation, dropout=dropout,
        name=name)
    inputs = keras.Input(shape=input_shape, name="image")
    x = NiNBlock((96, 96, 96), 11, strides=4, padding="valid", name="mlpconv1")(inputs)  # 54
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1")(x)               # 26×26×96
    x = NiNBlock((256, 256, 256), 5, name="mlpconv2")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool2")(x)               # 12×12×256
    x = NiNBlock((384, 384, 384), 3, name="mlpconv3")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool3")(x)               # 5×5×384
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    if include_top:
        x = _classifier_block(x, 1024, 3, num_classes, classifier_activation)
    else:
        x = global_pool(x, pooling)
    return keras.Model(inputs, x, name=name)


# Feature stages: each mlpconv block's map, and the last pool (what include_top=False ends with).
register_features({
    "nin": [(n, n) for n in ("mlpconv1", "mlpconv2", "pool2")],
    "nin_imagenet": [(n, n) for n in ("mlpconv1", "mlpconv2", "mlpconv3", "pool3")],
})
