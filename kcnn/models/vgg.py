"""VGG-11/13/16/19 (Simonyan & Zisserman, 2015), with and without BatchNorm."""

import keras

from kcnn.layers import ConvBlock
from kcnn.models._common import (check_args, check_dense_head, check_fixed_size, classifier,
                                 global_pool, load_weights, prepare_weights)
from kcnn.models._registry import model_info, register_model
from kcnn.models.features import register_features

# Filters per block (configurations A, B, D, E); a 2×2/2 max pool ends each block.
_BLOCKS = {
    11: ((64,), (128,), (256, 256), (512, 512), (512, 512)),
    13: ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512)),
    16: ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
    19: ((64, 64), (128, 128), (256,) * 4, (512,) * 4, (512,) * 4),
}
_CONFIG_LETTER = {11: "A", 13: "B", 16: "D", 19: "E"}


def _vgg(depth, *, input_shape, num_classes, include_top, pooling, classifier_activation,
         dropout, weights, name, batch_norm):
    model_name = f"vgg{depth}_bn" if batch_norm else f"vgg{depth}"
    input_shape = check_args(
        model_name, min_size=model_info(model_name).min_input_size, input_shape=input_shape,
        num_classes=num_classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, dropout=dropout, weights=weights,
        name=name)
    if include_top:
        check_fixed_size(model_name, input_shape)
    pretrained, _ = prepare_weights(model_name, weights, include_top)
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for b, filters in enumerate(_BLOCKS[depth], start=1):   # 224 → 112 → 56 → 28 → 14 → 7
        for c, f in enumerate(filters, start=1):
            # torchvision's *_bn keep the convolution bias before BatchNorm.
            x = ConvBlock(f, 3, batch_norm=batch_norm, use_bias=True,
                          kernel_initializer="glorot_uniform", name=f"block{b}_conv{c}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    if include_top:                                          # 7×7×512 at 224×224
        x = keras.layers.Flatten(name="flatten")(x)
        check_dense_head(model_name, x, 4096, "fc1", input_shape)
        for i in (1, 2):
            x = keras.layers.Dense(4096, activation="relu", name=f"fc{i}")(x)
            x = keras.layers.Dropout(dropout, name=f"fc{i}_dropout")(x)
        x = classifier(model_name, x, num_classes, classifier_activation)
    else:
        x = global_pool(x, pooling)
    return load_weights(keras.Model(inputs, x, name=name), pretrained, include_top,
                        num_classes)


_DOC = """VGG-{depth}{bn} (Simonyan & Zisserman, 2015). {params} parameters with the 1000-class head.

    Configuration {config} of the paper: 3×3 convolutions in five blocks, each ended by a
    2×2/2 max pool, then dense 4096 → dense 4096 → dense `num_classes` with dropout after
    the hidden dense layers.{bn_note} torchvision resizes the last map to 7×7 with an
    adaptive pool; here it is 7×7 at 224×224 and the dense layers follow the input size.

    Args:
        input_shape: tuple of 3 ints. At least 32×32; height and width may be `None`
            (any size) with `include_top=False`. Defaults to `(224, 224, 3)`.
        num_classes: int. Defaults to 1000.
        include_top: bool. Include the dense layers. Defaults to `True`.
        pooling: None, "avg" or "max". Global pooling when `include_top=False`.
        classifier_activation: activation of the output layer; `None` gives logits.
        dropout: float. Dropout rate after the hidden dense layers. Defaults to 0.5.
        weights: None, {sources} or the path of a weights file: see
            `kcnn.weights.pretrained` (`include_top=False` loads the body, another
            `num_classes` the body and a fresh head; the dense head's weights need
            224×224). Defaults to `None`.
        name: str. Model name.

    Returns:
        A `keras.Model`.
    """
_BN_NOTE = (" BatchNorm after every convolution (not in the paper; torchvision's *_bn, which"
            " keep the convolution bias).")


def _register(depth, batch_norm):
    model_name = f"vgg{depth}_bn" if batch_norm else f"vgg{depth}"

    def builder(*, input_shape=(224, 224, 3), num_classes=1000, include_top=True,
                pooling=None, classifier_activation=None, dropout=0.5, weights=None,
                name=model_name):
        return _vgg(depth, input_shape=input_shape, num_classes=num_classes,
                    include_top=include_top, pooling=pooling,
                    classifier_activation=classifier_activation, dropout=dropout,
                    weights=weights, name=name, batch_norm=batch_norm)

    builder.__name__ = builder.__qualname__ = model_name
    builder.__doc__ = _DOC.format(depth=depth, bn="-BN" if batch_norm else "",
                                  params=f"{model_info(model_name).num_params:,}",
                                  config=_CONFIG_LETTER[depth],
                                  bn_note=_BN_NOTE if batch_norm else "",
                                  sources=('"torchvision" ("torchvision:TAG")'
                                           if batch_norm or depth in (11, 13) else
                                           '"torchvision", "keras" ("source:TAG")'))
    return register_model(builder)


vgg11, vgg13, vgg16, vgg19 = (_register(d, batch_norm=False) for d in (11, 13, 16, 19))
vgg11_bn, vgg13_bn, vgg16_bn, vgg19_bn = (
    _register(d, batch_norm=True) for d in (11, 13, 16, 19))


# Feature stages: the five blocks, each ended by its pool (strides 2 to 32).
register_features({f"vgg{d}{bn}": [(f"block{b}", f"block{b}_pool") for b in range(1, 6)]
                   for d in _BLOCKS for bn in ("", "_bn")})
