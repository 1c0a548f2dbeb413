"""FCN-32s (Long, Shelhamer & Darrell, 2015): a classifier turned into a segmenter."""

import keras

from kcnn.convert import to_fully_convolutional
from kcnn.layers import BilinearUpsampling
from kcnn.models._common import check_args, check_choice, check_rate
from kcnn.models._registry import get_model, model_info, register_model

# Backbone: centre of the first score cell's receptive field, in pixels of the
# backbone's own (unpadded) input, and the distance between cells (the output stride).
# These come from the layer arithmetic (`kcnn.analysis.summarize` of the converted
# classifier reports them as `start` and `jump`; tests/models/test_fcn.py checks them).
# VGG: 2×2/2 pools put pool5's first cell at 15.5, the 7×7 fc6 at 15.5 + 3·32 = 111.5.
# AlexNet: conv1 (pad 2) and three 3×3/2 pools give 31, the 6×6 fc6 31 + 2.5·32 = 111.
_BACKBONES = {
    **{f"vgg{d}{bn}": (111.5, 32) for d in (11, 13, 16, 19) for bn in ("", "_bn")},
    "alexnet": (111, 32),
}


def _upsampler(centre, stride):
    """Kernel size and top/left padding that put output pixel i exactly at input pixel i.

    A tent kernel of size K (valid transposed convolution) peaks, for cell u, at output
    `u·stride + c` with `c = (K − 1) / 2`; cell u is centred on padded pixel
    `centre + u·stride`. They coincide when the input is padded by `centre − c` pixels
    before the first row and column: K = 2·stride if `centre` is half-integral
    (c = stride − ½), 2·stride − 1 if integral (c = stride − 1).
    """
    kernel = 2 * stride if centre % 1 else 2 * stride - 1
    return kernel, int(centre - (kernel - 1) / 2)


@register_model
def fcn32s(*, input_shape=(224, 224, 3), num_classes=21, backbone="vgg16",
           classifier_activation=None, dropout=0.5, name="fcn32s"):
    """FCN-32s (Long et al., 2015): per-pixel class scores at the input resolution.

    The `backbone` classifier's dense head is rewritten as convolutions
    (`kcnn.convert.to_fully_convolutional`: fc6 a 7×7 convolution for VGG, fc7 1×1), its
    1000-class layer replaced by a 1×1 `score` convolution with `num_classes` filters,
    and the coarse score map (one cell per 32 pixels) upsampled 32× by a transposed
    convolution initialized to bilinear interpolation (`BilinearUpsampling`, trainable),
    then cropped to the input size. 136,152,917 parameters with VGG-16 and 21 classes
    (arithmetic in docs/concepts.md).

    As in the paper, the image is zero-padded before the backbone so that fc6's 7×7
    window fits any image: here by 80 pixels before the first row and column (computed
    from the backbone's geometry so that output pixel i is centred on input pixel i,
    with no crop offset; the paper pads 100 in conv1_1 and crops at offset 19) and after
    it by the least that makes the upsampled map cover the image (80 to 111 pixels for
    VGG). The upsampler's kernel is 64 (VGG) or 63 (AlexNet, whose score cells are centred
    on whole pixels), stride 32. Deviations:
    the `score` layer is initialized like any convolution (the paper uses zeros), and
    max pooling rounds down where Caffe rounded up.

    Args:
        input_shape: tuple of 3 ints. At least 32×32. Defaults to `(224, 224, 3)`.
        num_classes: int. Classes, background included (PASCAL VOC: 21). Defaults to 21.
        backbone: str. One of vgg11, vgg13, vgg16, vgg19, their `_bn` variants, or
            alexnet; built untrained. Defaults to `"vgg16"` (the paper's FCN-32s).
        classifier_activation: activation over the classes of each pixel; `None`
            gives logits. Defaults to `None`.
        dropout: float. Dropout rate after fc6 and fc7, as the backbone. Defaults to 0.5.
        name: str. Model name. Defaults to `"fcn32s"`.

    Returns:
        A `keras.Model` with output shape `(batch, height, width, num_classes)`.

    Example:
    >>> model = kcnn.models.fcn32s(input_shape=(64, 64, 3), num_classes=5)
    >>> model.output_shape
    (None, 64, 64, 5)
    """
    input_shape = check_args("fcn32s", input_shape=input_shape, num_classes=num_classes,
                             pooling=None, min_size=model_info("fcn32s").min_input_size,
                             classifier_activation=classifier_activation)
    check_choice("fcn32s", "backbone", backbone, tuple(_BACKBONES))
    check_rate("fcn32s", "dropout", dropout)
    centre, stride = _BACKBONES[backbone]
    kernel, before = _upsampler(centre, stride)

    # The classifier at its own size (its dense head needs a 7×7 map), then convolutional.
    # (Its 1000-class layer is dropped: one class is enough to build it.)
    classifier = get_model(backbone, input_shape=(224, 224, input_shape[2]), num_classes=1,
                           dropout=dropout)
    converted = to_fully_convolutional(classifier)
    trunk = keras.Model(converted.inputs[0], converted.get_layer("predictions").input)
    del classifier, converted

    height, width, _ = input_shape
    inputs = keras.Input(shape=input_shape, name="image")
    after = [_padding_after(trunk, size, before, kernel, stride) for size in (height, width)]
    x = keras.layers.ZeroPadding2D(((before, after[0]), (before, after[1])), name="pad")(inputs)
    for layer in trunk.layers[1:]:  # the backbones in _BACKBONES are plain chains
        x = layer(x)                                                 # n×n×4096, n ≈ H/32 + 1
    x = keras.layers.Conv2D(num_classes, 1, name="score")(x)         # n×n×classes
    x = keras.layers.Conv2DTranspose(
        num_classes, kernel, strides=stride, use_bias=False,
        kernel_initializer=BilinearUpsampling(), name="upscore")(x)  # ≥ H×W×classes
    extra = (x.shape[1] - height, x.shape[2] - width)
    x = keras.layers.Cropping2D(((0, extra[0]), (0, extra[1])), name="crop")(x)  # H×W×classes
    if classifier_activation is not None:
        x = keras.layers.Activation(classifier_activation, name="predictions")(x)
    return keras.Model(inputs, x, name=name)


def _padding_after(trunk, size, before, kernel, stride):
    """The least padding after the image for which the upsampled map covers `size` pixels."""
    after = max(0, 224 - size - before)  # the 224-pixel window must fit
    while True:
        cells = trunk.compute_output_shape((1, before + size + after, 224, 3))[1]
        if cells >= 1 and (cells - 1) * stride + kernel >= size:
            return after
        after += 1
