"""Facts about every registered model, as plain data: readable without Keras or TensorFlow.

One `ModelInfo` per model is the only home of its input sizes, head, parameter count, MACs,
paper, deviations, reference accuracy and weights. The builders take their minimum input
size from here, the registry lists its names from here (so `kcnn models` does not import
the builders), and the tests and `docs/architectures.md` are checked against it.

Parameter counts are trainable parameters at the default build (BatchNorm's moving
statistics are not parameters, as papers and torchvision count them), pinned to
shared/REFERENCE.md by tests/models/test_param_counts.py. MACs are the multiply–accumulates
of one forward pass of one image at the default input size, as `kcnn.analysis.summarize`
counts them (convolutions, dense and pooling-free layers; BatchNorm and activations are not
counted); the same test builds every model and checks both.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class ReferenceAccuracy:
    """A published accuracy figure that a recipe for the model aims to reproduce.

    Args:
        dataset: str. The evaluation data, e.g. `"ImageNet"`, `"CIFAR-10"`.
        metric: str. `"top-1 error"`, `"top-5 error"` or `"top-1 accuracy"`.
        percent: float. The figure, in percent.
        source: str. Where it is published: `"paper"`, `"torchvision"`, ...
        note: str. The evaluation protocol or the variant it applies to. Defaults to `""`.
    """

    dataset: str
    metric: str
    percent: float
    source: str
    note: str = ""


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """The facts of one registered model, at its builder's default arguments.

    Read it with `kcnn.models.model_info(name)`; importing it needs neither Keras nor
    TensorFlow. For kcnn's own models every field is set (only `reference_accuracy` and
    `min_input_size_aux` may be `None`); a builder registered from outside kcnn without a
    record gets one with only `name` set.

    Args:
        name: str. The registered name, as `kcnn.models.get_model` takes it.
        family: str. The `kcnn.models` module that defines the builder
            (`"resnet"` for `kcnn/models/resnet.py`).
        task: str. `"classification"` (output `(batch, num_classes)`) or
            `"segmentation"` (output `(batch, height, width, num_classes)`).
        default_input_shape: tuple of 3 ints. The builder's default `input_shape`,
            `(height, width, channels)`.
        min_input_size: int. The smallest height and width the builder accepts; it
            refuses smaller inputs with a `ValueError` that states this number.
        min_input_size_aux: int or None. The smallest height and width with
            `aux_logits=True`, for models with auxiliary heads; `None` otherwise.
        num_classes: int. The builder's default `num_classes`.
        num_params: int. Trainable parameters of the default build.
        macs: int. Multiply–accumulates of one image at `default_input_shape`, as
            `kcnn.analysis.summarize` counts them.
        paper: str. Short citation of the architecture's source.
        deviations: tuple of str. Deliberate differences from the paper, one per item;
            empty if none.
        reference_accuracy: tuple of `ReferenceAccuracy`, or None. Published figures from
            shared/REFERENCE.md; `None` where it gives none.
        weights: tuple of str. The catalogue's published weights for the model, each as
            the builder's `weights=` takes it: `"source:TAG"` ("torchvision:IMAGENET1K_V2",
            "keras:imagenet_notop"); the builder makes the form they need (googlenet's
            torchvision form). Empty for models without published weights.

    Example:
    >>> info = kcnn.models.model_info("resnet50")
    >>> info.num_params, info.default_input_shape
    (25557032, (224, 224, 3))
    """

    name: str
    family: str | None = None
    task: str | None = None
    default_input_shape: tuple[int, int, int] | None = None
    min_input_size: int | None = None
    min_input_size_aux: int | None = None
    num_classes: int | None = None
    num_params: int | None = None
    macs: int | None = None
    paper: str | None = None
    deviations: tuple[str, ...] = ()
    reference_accuracy: tuple[ReferenceAccuracy, ...] | None = None
    weights: tuple[str, ...] = ()


def _acc(dataset, metric, percent, source, note=""):
    return ReferenceAccuracy(dataset, metric, percent, source, note)


_IMAGENET = dict(task="classification", default_input_shape=(224, 224, 3), num_classes=1000)
_CIFAR = dict(task="classification", default_input_shape=(32, 32, 3), num_classes=10)

# --- LeNet-5 -----------------------------------------------------------------------------
_LENET = (
    ModelInfo(
        name="lenet5", family="lenet", task="classification", default_input_shape=(32, 32, 1),
        min_input_size=16,  # two valid 5×5 convs and 2×2 pools: 16 → 12 → 6 → 2 → 1
        num_classes=10, num_params=61_706, macs=416_520,
        paper="LeCun et al. 1998",
        deviations=(
            "full C3 connections (paper: a sparse connection table)",
            "plain average pooling for S2/S4 (paper: a trainable coefficient and bias per map)",
            "C5 as a dense layer (equal to the paper's 5×5 convolution at 32×32)",
            "tanh (paper: scaled tanh)",
            "dense output layer (paper: Euclidean RBF units)",
        ),
        reference_accuracy=(_acc("MNIST", "top-1 error", 0.95, "paper"),
                            _acc("MNIST", "top-1 error", 0.8, "paper", "with distortions")),
    ),
)

# --- AlexNet -----------------------------------------------------------------------------
# Smallest input keeping the last 3×3/2 pool valid: pool5 needs 3, pool2 7, pool1 15 maps;
# conv1 (11×11/4) gives 15 from 63 with 2-pixel padding, from 67 without.
_ALEXNET = (
    ModelInfo(
        name="alexnet", family="alexnet", **_IMAGENET, min_input_size=63,
        num_params=61_100_840, macs=714_188_480,
        paper="Krizhevsky et al. 2012",
        deviations=(
            "torchvision's single tower 64-192-384-256-256 without LRN (paper: two towers, "
            "see alexnet_paper)",
            "no adaptive 6×6 pool (the map is 6×6 at 224×224; the dense layers follow other "
            "input sizes)",
        ),
        reference_accuracy=(_acc("ImageNet", "top-1 accuracy", 56.5, "torchvision"),),
    ),
    ModelInfo(
        name="alexnet_paper", family="alexnet", task="classification",
        default_input_shape=(227, 227, 3), min_input_size=67, num_classes=1000,
        num_params=60_965_224, macs=724_406_816,
        paper="Krizhevsky et al. 2012",
        deviations=(
            "the two GPU towers as groups=2 in conv2, conv4 and conv5",
            "input 227×227 (the paper's 224 does not give its 55×55 maps)",
            "the paper's initialization (biases of 1) not reproduced",
        ),
        reference_accuracy=(_acc("ImageNet", "top-1 error", 40.7, "paper", "1 net"),
                            _acc("ImageNet", "top-5 error", 18.2, "paper", "1 net")),
    ),
)

# --- VGG ---------------------------------------------------------------------------------
# (depth, configuration, params, params with BN, MACs); BN adds no MACs as summarize counts.
_VGG_FACTS = (
    (11, "A", 132_863_336, 132_868_840, 7_609_090_048),
    (13, "B", 133_047_848, 133_053_736, 11_308_466_176),
    (16, "D", 138_357_544, 138_365_992, 15_470_264_320),
    (19, "E", 143_667_240, 143_678_248, 19_632_062_464),
)
_VGG_DEVIATION = ("no adaptive 7×7 pool (torchvision's): the map is 7×7 at 224×224 and the "
                  "dense layers follow the input size")
_VGG_BN_DEVIATION = ("BatchNorm after every convolution, keeping the convolution bias "
                     "(not in the paper; torchvision's *_bn)")
_VGG_ACCURACY = {16: (_acc("ImageNet", "top-5 error", 7.2, "paper", "multi-crop + dense"),
                      _acc("ImageNet", "top-1 accuracy", 71.6, "torchvision"))}
_VGG = tuple(
    ModelInfo(
        name=f"vgg{depth}{'_bn' if bn else ''}", family="vgg", **_IMAGENET,
        min_input_size=32,  # five 2×2/2 pools
        num_params=bn_params if bn else params, macs=macs,
        paper=f"Simonyan & Zisserman 2015, configuration {config}",
        deviations=(_VGG_DEVIATION, _VGG_BN_DEVIATION) if bn else (_VGG_DEVIATION,),
        reference_accuracy=None if bn else _VGG_ACCURACY.get(depth),
    )
    for bn in (False, True) for depth, config, params, bn_params, macs in _VGG_FACTS
)

# --- Network in Network ------------------------------------------------------------------
_NIN = (
    ModelInfo(
        name="nin", family="nin", **_CIFAR,
        min_input_size=4,  # total stride of the layout; smaller maps are all padding
        num_params=966_986, macs=222_486_528,
        paper="Lin et al. 2014, CIFAR-10 layout",
        deviations=("'same' pooling, which gives the 16×16 and 8×8 maps of the authors' "
                    "Caffe model",),
        reference_accuracy=(
            _acc("CIFAR-10", "top-1 error", 10.41, "paper", "dropout, no augmentation"),
            _acc("CIFAR-10", "top-1 error", 8.81, "paper", "with augmentation")),
    ),
    ModelInfo(
        name="nin_imagenet", family="nin", **_IMAGENET,
        # conv1 11×11/4 and three valid 3×3/2 pools: 67 → 15 → 7 → 3 → 1
        min_input_size=67,
        num_params=7_595_176, macs=969_460_864,
        paper="Lin et al. 2014, the authors' released ImageNet model",
        deviations=("valid 3×3/2 pools (Caffe rounds up: 54→27→13→6 there, 54→26→12→5 "
                    "here)",),
    ),
)

# --- GoogLeNet ---------------------------------------------------------------------------
_GOOGLENET = (
    ModelInfo(
        name="googlenet", family="googlenet", **_IMAGENET,
        min_input_size=32,      # total stride 32
        min_input_size_aux=65,  # the auxiliary heads' 5×5 pool needs 5×5 maps after stride 16
        num_params=6_998_552, macs=1_582_671_872,
        paper="Szegedy et al. 2015",
        reference_accuracy=(
            _acc("ImageNet", "top-5 error", 10.07, "paper", "1 net, 1 crop"),
            _acc("ImageNet", "top-1 accuracy", 69.8, "torchvision",
                 "torchvision's form: form='torchvision'")),
    ),
)

# --- ResNet ------------------------------------------------------------------------------
_BN_DEVIATION = "BatchNorm momentum 0.9 and epsilon 1e-5 (torchvision's)"
_V15_DEVIATION = ("v1.5: the stride on the 3×3 of the bottleneck, as torchvision "
                  "(stride_in_1x1=True for the paper's v1)")
_RESNET_FACTS = (  # (depth, params, MACs)
    (18, 11_689_512, 1_814_073_344),
    (34, 21_797_672, 3_663_761_408),
    (50, 25_557_032, 4_089_184_256),
    (101, 44_549_160, 7_801_405_440),
    (152, 60_192_808, 11_513_626_624),
)
_RESNET50_ACCURACY = (
    _acc("ImageNet", "top-1 error", 20.74, "paper", "10-crop; ResNet v1 (stride_in_1x1=True)"),
    _acc("ImageNet", "top-5 error", 5.25, "paper", "10-crop; ResNet v1 (stride_in_1x1=True)"),
    _acc("ImageNet", "top-1 accuracy", 76.1, "torchvision", "V1 weights"),
)
_RESNET = tuple(
    ModelInfo(
        name=f"resnet{depth}", family="resnet", **_IMAGENET,
        min_input_size=32,  # total stride 32
        num_params=params, macs=macs,
        paper="He et al. 2016",
        deviations=(_BN_DEVIATION,) if depth < 50 else (_BN_DEVIATION, _V15_DEVIATION),
        reference_accuracy=_RESNET50_ACCURACY if depth == 50 else None,
    )
    for depth, params, macs in _RESNET_FACTS
)

# CIFAR ResNets (option-A shortcuts) and their plain twins: equal counts and MACs (the
# zero-padding shortcut has no parameters and summarize counts no MACs for it).
_CIFAR_FACTS = (  # (depth, params, MACs, paper's test error %)
    (20, 269_722, 40_551_040, 8.75),
    (32, 464_154, 68_862_592, 7.51),
    (44, 658_586, 97_174_144, 7.17),
    (56, 853_018, 125_485_696, 6.97),
    (110, 1_727_962, 252_887_680, 6.43),
)
_PLAIN_ACCURACY = {56: (_acc("CIFAR-10", "top-1 error", 15.0, "third-party reproductions",
                             "approximate"),)}
_CIFAR_RESNET = tuple(
    ModelInfo(
        name=f"{'plain' if plain else 'resnet'}{depth}", family="resnet", **_CIFAR,
        min_input_size=4,  # total stride 4
        num_params=params, macs=macs,
        paper="He et al. 2016, Fig. 6" if plain else "He et al. 2016, §4.2",
        deviations=() if plain else (
            "option-A shortcut pads the new channels after the old ones",),
        reference_accuracy=(_PLAIN_ACCURACY.get(depth) if plain else
                            (_acc("CIFAR-10", "top-1 error", error, "paper"),)),
    )
    for plain in (False, True) for depth, params, macs, error in _CIFAR_FACTS
)

# --- FCN ---------------------------------------------------------------------------------
_FCN = (
    ModelInfo(
        name="fcn32s", family="fcn", task="segmentation", default_input_shape=(224, 224, 3),
        # A chosen floor of one output stride: the padding makes any size computable, but
        # images up to 64 pixels already get a single score cell, spread by the upsampler.
        min_input_size=32,
        num_classes=21, num_params=136_152_917, macs=49_471_782_912,
        paper="Long et al. 2015, FCN-32s on VGG-16",
        deviations=(
            "pads 80 pixels before the image and crops at offset 0, so that output pixel i "
            "sits on input pixel i (paper: pad 100, crop 19)",
            "score layer not zero-initialized",
            "floor pooling (Caffe: ceil)",
        ),
    ),
)



def _with_weights(records):
    """Each record with the catalogue's weights for its model, as `weights=` values."""
    from kcnn.weights import catalogue  # the catalogue reads a JSON file: no Keras, no NumPy

    tags = {}
    for r in catalogue.list_weights():
        tags.setdefault(r.model, []).append(f"{r.source}:{r.tag}")
    return {name: dataclasses.replace(info, weights=tuple(tags.get(name, ())))
            for name, info in records.items()}


RECORDS = _with_weights({info.name: info for info in (
    *_LENET, *_ALEXNET, *_VGG, *_NIN, *_GOOGLENET, *_RESNET, *_CIFAR_RESNET, *_FCN)})
