"""GoogLeNet, Inception v1 (Szegedy et al., 2015)."""

import keras

from kcnn.layers import (AuxiliaryClassifier, ChannelAffine, ConvBlock, InceptionBlock,
                         LocalResponseNormalization)
from kcnn.models._common import (check_args, check_fixed_size, classifier, global_pool,
                                 load_weights, prepare_weights)
from kcnn.models._registry import model_info, register_model
from kcnn.models.features import register_features

# Table 1 of the paper: #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj.
_INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
_POOL_AFTER = ("3b", "4e")   # 3×3/2 max pools between the stages
_AUX_AFTER = {"4a": "aux1", "4d": "aux2"}


# torchvision's transform_input: ImageNet-normalized input -> (x - 0.5) / 0.5 per channel.
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
TORCHVISION_BN_EPSILON = 1e-3
FORMS = ("paper", "torchvision")


def _form_args(form, batch_norm, branch3_kernel_size, dropout, transform_input):
    """The arguments `form` implies (None: the paper's); ValueError for a contradicting one."""
    if form in (None, "paper"):
        if transform_input:
            raise ValueError("googlenet: `transform_input=True` is torchvision's; it needs "
                             "form='torchvision'; got form='paper'.")
        return (False if batch_norm is None else batch_norm,
                5 if branch3_kernel_size is None else branch3_kernel_size,
                0.4 if dropout is None else dropout)
    for arg, value, want in (("batch_norm", batch_norm, True),
                             ("branch3_kernel_size", branch3_kernel_size, 3)):
        if value is not None and value != want:
            raise ValueError(f"googlenet: form='torchvision' has {arg}={want!r}; got "
                             f"{arg}={value!r} (leave it out, or use form='paper').")
    return True, 3, 0.2 if dropout is None else dropout


def _max_pool(x, size, form, name):
    """The stride-2 max pools: "same" in the paper form, PyTorch's `ceil_mode=True` in
    torchvision's (`pool_size` 3, and 2 after (4e))."""
    if form == "paper":
        return keras.layers.MaxPooling2D(3, strides=2, padding="same", name=name)(x)
    # ceil_mode = one more (zero) row and column at the end, then a floor-mode pool; the
    # inputs come from a ReLU, so zeros never win over the -inf PyTorch pads with.
    x = keras.layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"{name}_pad")(x)
    return keras.layers.MaxPooling2D(size, strides=2, name=name)(x)


def is_torchvision_form(model):
    """True for a model built by `googlenet(form="torchvision")` (what torchvision's
    weights need: its pools and BatchNorm epsilon)."""
    names = {layer.name for layer in model.layers}
    if not {"conv1", "pool1_pad", "pool_4e"} <= names:
        return False
    bn = getattr(model.get_layer("conv1"), "bn", None)
    return (bn is not None and bn.epsilon == TORCHVISION_BN_EPSILON
            and tuple(model.get_layer("pool_4e").pool_size) == (2, 2))


@register_model
def googlenet(*, input_shape=(224, 224, 3), num_classes=1000, include_top=True,
              pooling=None, classifier_activation=None, aux_logits=False,
              form=None, batch_norm=None, branch3_kernel_size=None, dropout=None,
              transform_input=None, weights=None, name="googlenet"):
    """GoogLeNet (Szegedy et al., 2015). 6,998,552 parameters as in the paper, no aux heads.

    Stem (7×7/2 conv, pool, LRN, 1×1 and 3×3 convs, LRN, pool), inception (3a)–(5b)
    from Table 1 with 3×3/2 max pools after (3b) and (4e), global average pooling,
    dropout 0.4, dense `num_classes`.

    Defaults follow the paper: a 5×5 third branch, convolution biases, LRN, no BN.
    `form="torchvision"` is torchvision's `googlenet` exactly (its weights give its
    outputs): 6,624,904 parameters, 13,004,888 with the auxiliary heads. It differs
    from the paper form in: BatchNorm (epsilon 1e-3) after every convolution instead of
    biases and LRN; a 3×3 in the "5×5" branch (a known bug kept for weight
    compatibility); stride-2 max pools with PyTorch's `ceil_mode=True` and no padding,
    2×2 (not 3×3) after (4e); auxiliary heads that pool adaptively to 4×4 (not 5×5/3);
    dropout 0.2; optionally `transform_input`. Parameter counts: 6,998,552 (paper),
    7,005,832 (paper with BN), 6,624,904 (torchvision, or `batch_norm=True,
    branch3_kernel_size=3` in the paper form); the two auxiliary heads add 6,379,728
    (paper) or 6,379,984 (with BN).

    Args:
        input_shape: tuple of 3 ints. At least 32×32, or 65×65 with `aux_logits`.
            Height and width may be `None` (any size) without `aux_logits`.
            Defaults to `(224, 224, 3)`.
        num_classes: int. Defaults to 1000.
        include_top: bool. Include the dense head. Defaults to `True`.
        pooling: None, "avg" or "max". Global pooling when `include_top=False`.
        classifier_activation: activation of the output layers; `None` gives logits.
        aux_logits: bool. Add the auxiliary classifiers after (4a) and (4d) as extra
            outputs named "aux1" and "aux2" (training only). Defaults to `False`.
        form: "paper" or "torchvision". Defaults to `None`: "paper", or "torchvision"
            with `weights="torchvision"`.
        batch_norm: bool. BatchNorm after every convolution instead of biases and LRN.
            Defaults to `False` (paper form); must be `True` or left out with
            `form="torchvision"`.
        branch3_kernel_size: 5 (paper) or 3 (torchvision). Defaults to the form's.
        dropout: float. Dropout before the last layer. Defaults to 0.4 (paper form) or
            0.2 (torchvision form).
        transform_input: bool. torchvision form only: first map ImageNet-normalized
            images to the (x - 0.5) / 0.5 normalization the original weights expect,
            as torchvision's pretrained googlenet does. Defaults to `None`: `False`, or
            `True` with torchvision's weights (as torchvision).
        weights: None, "torchvision" (or "torchvision:TAG") or the path of a weights
            file: see `kcnn.weights.pretrained`. Builds torchvision's form
            (`form="torchvision", transform_input=True`); a contradicting argument is
            a ValueError. Defaults to `None`.
        name: str. Model name. Defaults to `"googlenet"`.

    Returns:
        A `keras.Model` with output "predictions", or outputs
        ["predictions", "aux1", "aux2"] with `aux_logits=True`.
    """
    info = model_info("googlenet")
    input_shape = check_args(
        "googlenet",  # aux_logits is checked before input_shape, whose minimum it sets
        min_size=info.min_input_size_aux if aux_logits is True else info.min_input_size,
        choices={"form": (None, *FORMS), "branch3_kernel_size": (None, 5, 3)},
        optional=("batch_norm", "dropout", "transform_input"), input_shape=input_shape,
        num_classes=num_classes, include_top=include_top, pooling=pooling,
        classifier_activation=classifier_activation, aux_logits=aux_logits, form=form,
        batch_norm=batch_norm, branch3_kernel_size=branch3_kernel_size, dropout=dropout,
        transform_input=transform_input, weights=weights, name=name)
    pretrained, given = prepare_weights(
        "googlenet", weights, include_top, form=form, batch_norm=batch_norm,
        branch3_kernel_size=branch3_kernel_size, transform_input=transform_input)
    form, batch_norm, branch3_kernel_size, transform_input = (
        given[k] for k in ("form", "batch_norm", "branch3_kernel_size", "transform_input"))
    form, transform_input = form or "paper", bool(transform_input)
    batch_norm, branch3_kernel_size, dropout = _form_args(
        form, batch_norm, branch3_kernel_size, dropout, transform_input)
    if aux_logits and not include_top:
        raise ValueError("googlenet: `aux_logits=True` needs `include_top=True`.")
    if aux_logits:
        check_fixed_size("googlenet", input_shape,
                         "the auxiliary heads' dense layers (aux_logits=True)")
    tv = form == "torchvision"
    bn = {"bn_epsilon": TORCHVISION_BN_EPSILON} if tv else {}

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if transform_input:
        x = ChannelAffine([s / 0.5 for s in _IMAGENET_STD],
                          [(m - 0.5) / 0.5 for m in _IMAGENET_MEAN], name="transform_input")(x)
    x = ConvBlock(64, 7, strides=2, padding=3, batch_norm=batch_norm, **bn, name="conv1")(x)
    x = _max_pool(x, 3, form, "pool1")                                           # 56×56×64
    if not batch_norm:
        x = LocalResponseNormalization(name="lrn1")(x)
    x = ConvBlock(64, 1, batch_norm=batch_norm, **bn, name="conv2_reduce")(x)
    x = ConvBlock(192, 3, batch_norm=batch_norm, **bn, name="conv2")(x)          # 56×56×192
    if not batch_norm:
        x = LocalResponseNormalization(name="lrn2")(x)
    x = _max_pool(x, 3, form, "pool2")                                           # 28×28×192

    aux_outputs = []
    for stage, filters in _INCEPTION.items():   # 28×28×480 after 3b, 14×14×832 after 4e
        x = InceptionBlock(*filters, branch3_kernel_size=branch3_kernel_size,
                           batch_norm=batch_norm, **bn, name=f"inception_{stage}")(x)
        if aux_logits and stage in _AUX_AFTER:
            aux_outputs.append(AuxiliaryClassifier(
                num_classes, batch_norm=batch_norm, adaptive_pool=4 if tv else None,
                classifier_activation=classifier_activation, **bn,
                name=_AUX_AFTER[stage])(x))
        if stage in _POOL_AFTER:
            x = _max_pool(x, 2 if tv and stage == "4e" else 3, form, f"pool_{stage}")
    # 7×7×1024
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        x = classifier("googlenet", x, num_classes, classifier_activation)
    else:
        x = global_pool(x, pooling)
    model = keras.Model(inputs, [x, *aux_outputs] if aux_outputs else x, name=name)
    return load_weights(model, pretrained, include_top, num_classes)


# Feature stages: the stem's stride-2 and stride-4 maps (conv2 before its LRN), then the
# last inception block before each pool and the last one (strides 8, 16, 32).
register_features({"googlenet": [(n, n) for n in ("conv1", "conv2", "inception_3b",
                                                 "inception_4e", "inception_5b")]})
