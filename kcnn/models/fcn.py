"""FCN-32s (Long, Shelhamer & Darrell, 2015): a classifier turned into a segmenter."""

import math

import keras

from kcnn.layers import BilinearUpsampling
from kcnn.models._common import check_args, check_fixed_size, check_layer_size
from kcnn.models._registry import model_info, register_model
from kcnn.models.features import feature_extractor, register_features

# Backbone: its last feature stage; the centre of the first score cell's receptive field,
# in pixels of the backbone's own (unpadded) input; and the distance between cells (the
# output stride). The centres come from the layer arithmetic (`kcnn.analysis.summarize`
# reports them as `start` and `jump`; tests/models/test_fcn.py checks them).
# VGG: 2×2/2 pools put pool5's first cell at 15.5, the 7×7 fc6 at 15.5 + 3·32 = 111.5.
# AlexNet: conv1 (pad 2) and three 3×3/2 pools give 31, the 6×6 fc6 31 + 2.5·32 = 111.
_BACKBONES = {
    **{f"vgg{d}{bn}": ("block5", 111.5, 32) for d in (11, 13, 16, 19) for bn in ("", "_bn")},
    "alexnet": ("pool5", 111, 32),
}
_CLASSIFIER_SIZE = 224  # the backbones' dense heads see their last map at this input size


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


def _dense_as_conv(x, units, window, dropout, name):
    """The classifier's dense layer as a convolution over a `window` of the map, with the
    dense layer's Glorot scale (fan-in: the flattened window; fan-out: `units`)."""
    fan_in = window[0] * window[1] * x.shape[-1]
    limit = math.sqrt(6 / (fan_in + units))
    x = keras.layers.Conv2D(units, window, activation="relu", name=name,
                            kernel_initializer=keras.initializers.RandomUniform(-limit, limit))(x)
    return keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)


@register_model
def fcn32s(*, input_shape=(224, 224, 3), num_classes=21, backbone="vgg16",
           classifier_activation=None, dropout=0.5, name="fcn32s"):
    """FCN-32s (Long et al., 2015): per-pixel class scores at the input resolution.

    The `backbone`'s convolutional body (its last stage from `feature_extractor`, a
    nested model named `<backbone>_features`), then its dense head as convolutions
    (fc6 over the window its first dense layer sees, 7×7 for VGG and 6×6 for AlexNet,
    fc7 1×1; each with ReLU and dropout, named `fc1` and `fc2` as in the backbone), a 1×1
    `score` convolution with `num_classes` filters in place of the 1000-class layer,
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
        input_shape: tuple of 3 ints. At least 32×32; a fixed size (the padding and the
            crop follow it). Defaults to `(224, 224, 3)`.
        num_classes: int. Classes, background included (PASCAL VOC: 21). Defaults to 21.
        backbone: str. One of vgg11, vgg13, vgg16, vgg19, their `_bn` variants, or
            alexnet; built untrained. Defaults to `"vgg16"` (the paper's FCN-32s).
        classifier_activation: activation over the classes of each pixel; `None`
            gives logits. Defaults to `None`.
        dropout: float. Dropout rate after fc6 and fc7 (as the paper; torchvision's
            AlexNet puts it before its dense layers). Defaults to 0.5.
        name: str. Model name. Defaults to `"fcn32s"`.

    Returns:
        A `keras.Model` with output shape `(batch, height, width, num_classes)`.

    Example:
    >>> model = kcnn.models.fcn32s(input_shape=(64, 64, 3), num_classes=5)
    >>> model.output_shape
    (None, 64, 64, 5)
    """
    input_shape = check_args(
        "fcn32s", min_size=model_info("fcn32s").min_input_size,
        choices={"backbone": tuple(_BACKBONES)}, input_shape=input_shape,
        num_classes=num_classes, backbone=backbone,
        classifier_activation=classifier_activation, dropout=dropout, name=name)
    check_fixed_size("fcn32s", input_shape, "its padding and crop (computed from the size)")
    stage, centre, stride = _BACKBONES[backbone]
    kernel, before = _upsampler(centre, stride)
    # The upsampler's kernel grows with the square of the classes: checked before any layer.
    check_layer_size("fcn32s", "upscore", (kernel, kernel, num_classes, num_classes),
                     "num_classes", num_classes)

    # The backbone's convolutional body, for any size; its dense head, as convolutions:
    # fc1 over the window that the classifier's first dense layer sees, fc2 1×1.
    height, width, channels = input_shape
    body = feature_extractor(backbone, stages=stage, input_shape=(None, None, channels))
    window = body.compute_output_shape((1, _CLASSIFIER_SIZE, _CLASSIFIER_SIZE, channels))[1:3]
    after = [_padding_after(body, size, before, window, kernel, stride)
             for size in (height, width)]

    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.ZeroPadding2D(((before, after[0]), (before, after[1])), name="pad")(inputs)
    x = body(x)                                                      # H/32 + 7 (VGG)
    x = _dense_as_conv(x, 4096, window, dropout, "fc1")              # n×n×4096, n ≈ H/32 + 1
    x = _dense_as_conv(x, 4096, (1, 1), dropout, "fc2")
    x = keras.layers.Conv2D(num_classes, 1, name="score")(x)         # n×n×classes
    x = keras.layers.Conv2DTranspose(
        num_classes, kernel, strides=stride, use_bias=False,
        kernel_initializer=BilinearUpsampling(), name="upscore")(x)  # ≥ H×W×classes
    extra = (x.shape[1] - height, x.shape[2] - width)
    x = keras.layers.Cropping2D(((0, extra[0]), (0, extra[1])), name="crop")(x)  # H×W×classes
    if classifier_activation is not None:
        x = keras.layers.Activation(classifier_activation, name="predictions")(x)
    return keras.Model(inputs, x, name=name)


def _padding_after(body, size, before, window, kernel, stride):
    """The least padding after the image for which the upsampled map covers `size` pixels."""
    after = max(0, _CLASSIFIER_SIZE - size - before)  # the classifier's window must fit
    while True:
        padded = before + size + after
        shape = (1, padded, padded, body.input_shape[-1])
        cells = body.compute_output_shape(shape)[1] - window[0] + 1
        if cells >= 1 and (cells - 1) * stride + kernel >= size:
            return after
        after += 1


register_features({"fcn32s": "its output is already a per-pixel map; take the stages of "
                             "its backbone, e.g. feature_extractor('vgg16')"})
