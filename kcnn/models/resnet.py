"""ResNets (He et al., 2016): ImageNet ResNet-18…152, CIFAR ResNet-20…110 and plain twins."""

import keras

from kcnn.layers import ConvBlock, ResidualBlock
from kcnn.layers.residual import SHORTCUTS
from kcnn.models._common import (check_args, classifier, global_pool, load_weights,
                                 prepare_weights)
from kcnn.models._registry import model_info, register_model
from kcnn.models.features import register_features

# ImageNet: block kind and blocks per stage; stages have 64, 128, 256, 512 filters.
_STAGES = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
_CIFAR_DEPTHS = (20, 32, 44, 56, 110)  # 6n + 2 layers: n blocks in each of 3 stages


def _head(model, x, include_top, pooling, num_classes, classifier_activation):
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
        return classifier(model, x, num_classes, classifier_activation)
    return global_pool(x, pooling)


def _resnet(depth, *, input_shape, num_classes, include_top, pooling,
            classifier_activation, stride_in_1x1, weights, name):
    model = f"resnet{depth}"
    input_shape = check_args(
        model, min_size=model_info(model).min_input_size, input_shape=input_shape,
        num_classes=num_classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, stride_in_1x1=stride_in_1x1,
        weights=weights, name=name)
    pretrained, form = prepare_weights(model, weights, include_top,
                                       stride_in_1x1=stride_in_1x1)
    stride_in_1x1 = form["stride_in_1x1"]
    kind, blocks = _STAGES[depth]
    inputs = keras.Input(shape=input_shape, name="image")
    x = ConvBlock(64, 7, strides=2, padding=3, batch_norm=True, name="stem_conv")(inputs)
    x = keras.layers.ZeroPadding2D(1, name="stem_pad")(x)   # zeros after ReLU = -inf pad
    x = keras.layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)     # 56×56×64
    for stage, (filters, n) in enumerate(zip((64, 128, 256, 512), blocks), start=1):
        for block in range(1, n + 1):
            strides = 2 if stage > 1 and block == 1 else 1
            x = ResidualBlock(filters, kind=kind, strides=strides, shortcut="projection",
                              stride_in_1x1=stride_in_1x1,
                              name=f"stage{stage}_block{block}")(x)
        # 56×56, 28×28, 14×14, 7×7 (×4 channels for bottlenecks)
    x = _head(model, x, include_top, pooling, num_classes, classifier_activation)
    return load_weights(keras.Model(inputs, x, name=name), pretrained, include_top,
                        num_classes)


def _cifar_resnet(depth, *, plain, input_shape, num_classes, include_top, pooling,
                  classifier_activation, shortcut, name):
    model = f"plain{depth}" if plain else f"resnet{depth}"
    input_shape = check_args(
        model, min_size=model_info(model).min_input_size, choices={"shortcut": SHORTCUTS},
        input_shape=input_shape, num_classes=num_classes, include_top=include_top,
        pooling=pooling, classifier_activation=classifier_activation, shortcut=shortcut,
        name=name)
    n = (depth - 2) // 6
    inputs = keras.Input(shape=input_shape, name="image")
    x = ConvBlock(16, 3, batch_norm=True, name="stem_conv")(inputs)       # 32×32×16
    for stage, filters in enumerate((16, 32, 64), start=1):              # 32, 16, 8
        for block in range(1, n + 1):
            strides = 2 if stage > 1 and block == 1 else 1
            x = ResidualBlock(filters, strides=strides, shortcut=shortcut,
                              name=f"stage{stage}_block{block}")(x)
    x = _head(model, x, include_top, pooling, num_classes, classifier_activation)
    return keras.Model(inputs, x, name=name)


def _register_imagenet(depth):
    model_name = f"resnet{depth}"

    def builder(*, input_shape=(224, 224, 3), num_classes=1000, include_top=True,
                pooling=None, classifier_activation=None, stride_in_1x1=False,
                weights=None, name=model_name):
        return _resnet(depth, input_shape=input_shape, num_classes=num_classes,
                       include_top=include_top, pooling=pooling,
                       classifier_activation=classifier_activation,
                       stride_in_1x1=stride_in_1x1, weights=weights, name=name)

    kind, blocks = _STAGES[depth]
    params = model_info(model_name).num_params
    builder.__name__ = builder.__qualname__ = model_name
    builder.__doc__ = f"""ResNet-{depth} (He et al., 2016). {params:,} parameters with the 1000-class head.

    7×7/2 stem + 3×3/2 max pool, {kind} blocks {blocks} in stages of 64, 128, 256, 512
    filters, global average pooling, dense `num_classes`. No convolution bias before
    BatchNorm; projection shortcuts (option B) where the shape changes. Bottlenecks put
    the stride on the 3×3 (v1.5, torchvision) unless `stride_in_1x1=True` (v1, the paper).
    BatchNorm momentum 0.9 and epsilon 1e-5, as torchvision.

    Args:
        input_shape: tuple of 3 ints. At least 32×32; height and width may be `None`
            (any size). Defaults to `(224, 224, 3)`.
        num_classes: int. Defaults to 1000.
        include_top: bool. Include global pooling and the dense layer. Defaults to `True`.
        pooling: None, "avg" or "max". Global pooling when `include_top=False`.
        classifier_activation: activation of the output layer; `None` gives logits.
        stride_in_1x1: bool. ResNet v1 stride placement (bottlenecks only); torchvision's
            weights need `False`.
        weights: None, "torchvision" (or "torchvision:TAG") or the path of a weights
            file: see `kcnn.weights.pretrained` (`include_top=False` loads the body,
            another `num_classes` the body and a fresh head). Defaults to `None`.
        name: str. Model name. Defaults to `"{model_name}"`.

    Returns:
        A `keras.Model`.
    """
    return register_model(builder)


def _register_cifar(depth, plain):
    model_name = f"plain{depth}" if plain else f"resnet{depth}"
    default_shortcut = False if plain else "zero_pad"

    def builder(*, input_shape=(32, 32, 3), num_classes=10, include_top=True, pooling=None,
                classifier_activation=None, shortcut=default_shortcut, name=model_name):
        return _cifar_resnet(depth, plain=plain, input_shape=input_shape,
                             num_classes=num_classes, include_top=include_top,
                             pooling=pooling, classifier_activation=classifier_activation,
                             shortcut=shortcut, name=name)

    builder.__name__ = builder.__qualname__ = model_name
    what = ("plain twin of ResNet-{d}: the same layers with no shortcuts (He et al. Fig. 6)"
            if plain else "CIFAR ResNet-{d} (He et al., 2016, §4.2)").format(d=depth)
    params = model_info(model_name).num_params
    builder.__doc__ = f"""The {what}. {params:,} parameters with 10 classes.

    3×3 conv 16 + BN + ReLU, then {(depth - 2) // 6} basic blocks in each of three stages of
    16, 32, 64 filters (32×32, 16×16, 8×8), global average pooling, dense `num_classes`.
    `shortcut` is {default_shortcut!r} by default; "zero_pad" is the paper's option A
    (parameter-free), "projection" option B (272,474 parameters for depth 20).

    Args:
        input_shape: tuple of 3 ints. At least 4×4; height and width may be `None`
            (any size). Defaults to `(32, 32, 3)`.
        num_classes: int. Defaults to 10.
        include_top: bool. Include global pooling and the dense layer. Defaults to `True`.
        pooling: None, "avg" or "max". Global pooling when `include_top=False`.
        classifier_activation: activation of the output layer; `None` gives logits.
        shortcut: "zero_pad", "projection" or False. Defaults to {default_shortcut!r}.
        name: str. Model name. Defaults to `"{model_name}"`.

    Returns:
        A `keras.Model`.
    """
    return register_model(builder)



resnet18, resnet34, resnet50, resnet101, resnet152 = (
    _register_imagenet(d) for d in (18, 34, 50, 101, 152))
resnet20, resnet32, resnet44, resnet56, resnet110 = (
    _register_cifar(d, plain=False) for d in _CIFAR_DEPTHS)
plain20, plain32, plain44, plain56, plain110 = (
    _register_cifar(d, plain=True) for d in _CIFAR_DEPTHS)


def _feature_stages(blocks):
    # The stem's map is the 7×7/2 (or CIFAR 3×3) convolution's, before the pool; a
    # stage's, its last block's.
    return (("stem", "stem_conv"),
            *((f"stage{s}", f"stage{s}_block{n}") for s, n in enumerate(blocks, start=1)))


register_features({
    **{f"resnet{d}": _feature_stages(blocks) for d, (_, blocks) in _STAGES.items()},
    **{f"{kind}{d}": _feature_stages([(d - 2) // 6] * 3)
       for kind in ("resnet", "plain") for d in _CIFAR_DEPTHS},
})
