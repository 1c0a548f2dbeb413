"""The catalogue of published weight files, and ImageNet's 1000 class names.

One `WeightsRecord` per file, from `kcnn/weights/data/catalogue.json` (written by
tests/weights/make_catalogue.py from torchvision's `Weights` enums and
keras.applications' sources): every torchvision classification weight of the ResNets,
VGGs (and `_bn`), AlexNet and GoogLeNet, and keras.applications' VGG16/VGG19 with and
without the top. Imports neither Keras nor NumPy.

What a hash can check: torchvision publishes only the first 8 hex digits of each file's
SHA-256, in its file name (`resnet18-f37072fd.pth`), so that prefix is what is checked;
keras.applications publishes the full MD5 (`file_hash=` of its `get_file` calls).

Example:
>>> record = kcnn.weights.find_weights("resnet50", "torchvision")
>>> record.tag, record.acc1, record.preprocessing["resize"]
('IMAGENET1K_V2', 80.858, 232)
"""

import dataclasses
import difflib
import fnmatch
import functools
import json
from importlib import resources

SOURCES = ("torchvision", "keras")


@dataclasses.dataclass(frozen=True)
class WeightsRecord:
    """One published weight file.

    Attributes:
        model: str. The kcnn model the weights fill (`kcnn.models.model_info(model)`).
        source: str. "torchvision" or "keras".
        tag: str. The source's name of the weights: torchvision's enum member
            ("IMAGENET1K_V1", "IMAGENET1K_V2", "IMAGENET1K_FEATURES"); keras: "imagenet"
            or "imagenet_notop".
        default: bool. What `weights="<source>"` loads: torchvision's `DEFAULT` (V2 where
            there is one); both keras files (with or without the top).
        include_top: bool. The file holds the classifier (dense) layers.
        classifies: bool. The file's head gives ImageNet predictions (False: the keras
            `_notop` files, and torchvision's vgg16 IMAGENET1K_FEATURES, whose
            classifier holds no trained values).
        url: str. Where the file is published.
        file_name: str. Its name (Keras's cache keeps it under this name).
        hash_algorithm: str. "sha256_prefix" (torchvision: the first hex digits of the
            SHA-256, from the file name; all that is published) or "md5" (keras: the
            whole MD5).
        file_hash: str. The published hash or hash prefix, lowercase hex.
        file_size_mib: float or None. The file's size in MiB (torchvision's
            `_file_size`); None where not published.
        num_params: int. Parameters of the network the file fills, as published
            (torchvision's `num_params`; googlenet's counts the main network, the file
            also holds the auxiliary heads).
        gflops: float or None. torchvision's `_ops` (multiply-adds, in G).
        acc1: float or None. Published ImageNet-1K validation top-1 accuracy, percent.
        acc5: float or None. Top-5, percent.
        accuracy_source: str. Where `acc1`/`acc5` come from.
        preprocessing: dict. The evaluation preprocessing of the published accuracy:
            `resize` (the shorter side, pixels), `crop` (center crop, pixels),
            `interpolation`, `antialias`, `scale` (applied to 0..255 pixel values),
            `channel_order` ("RGB" or "BGR"), `mean` and `std` (per channel, in that
            order, after scaling): `(pixels * scale - mean) / std`.
        builder_kwargs: dict. kcnn builder arguments that build the source's form
            where kcnn's default differs (googlenet).
        licence: str. The terms of the weights, as their publisher states them.
        recipe: str or None. The training recipe's URL.
        notes: str. The publisher's description.
    """

    model: str
    source: str
    tag: str
    default: bool
    include_top: bool
    classifies: bool
    url: str
    file_name: str
    hash_algorithm: str
    file_hash: str
    file_size_mib: float | None
    num_params: int
    gflops: float | None
    acc1: float | None
    acc5: float | None
    accuracy_source: str
    preprocessing: dict
    builder_kwargs: dict
    licence: str
    recipe: str | None
    notes: str

    @property
    def crop_fraction(self):
        """The center crop's share of the resized shorter side (timm's `crop_pct`)."""
        return self.preprocessing["crop"] / self.preprocessing["resize"]

    @property
    def key(self):
        """`(model, source, tag)`, unique in the catalogue."""
        return (self.model, self.source, self.tag)


@functools.cache
def _records():
    text = resources.files("kcnn.weights").joinpath("data/catalogue.json").read_text()
    return tuple(WeightsRecord(**r) for r in json.loads(text)["records"])


@functools.cache
def imagenet_classes():
    """ImageNet-1K's 1000 class names, in the order of the classifiers' outputs.

    From torchvision's `_IMAGENET_CATEGORIES`; keras.applications' classifiers use the
    same class order (the sorted WordNet IDs).

    Returns:
        A tuple of 1000 str, e.g. `imagenet_classes()[0] == "tench"`.
    """
    text = resources.files("kcnn.weights").joinpath("data/imagenet_classes.json").read_text()
    return tuple(json.loads(text))


def _hint(value, known):
    close = difflib.get_close_matches(str(value), list(known), n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def check_source(source):
    """Returns `source` if it is a known weights source, else raises.

    Raises:
        ValueError: naming the close known sources (as kcnn.models does for names).
    """
    if source not in SOURCES:
        raise ValueError(f"Unknown weights source {source!r}.{_hint(source, SOURCES)} "
                         f"Known sources: {', '.join(SOURCES)}.")
    return source


def list_weights(pattern=None, source=None):
    """The catalogue's records, optionally of models matching `pattern` and of one source.

    Args:
        pattern: str or None. A shell-style wildcard on the model name ("resnet*").
            Defaults to `None` (every model).
        source: str or None. "torchvision" or "keras". Defaults to `None` (both).

    Returns:
        A list of `WeightsRecord`, in the catalogue's order.

    Raises:
        ValueError: for an unknown `source`.
    """
    if source is not None:
        check_source(source)
    return [r for r in _records()
            if (source is None or r.source == source)
            and (pattern is None or fnmatch.fnmatchcase(r.model, pattern))]


def find_weights(model, source, *, tag=None, include_top=True):
    """The record of the weights `weights="<source>"` loads into `model`.

    Args:
        model: str. A kcnn model name.
        source: str. "torchvision" or "keras".
        tag: str or None. A tag of that model's weights ("IMAGENET1K_V1"); `None` picks
            the default record (torchvision's DEFAULT; for keras, the file with or
            without the top, as `include_top`). Defaults to `None`.
        include_top: bool. For keras without a `tag`: the file with the dense layers.
            Defaults to `True`.

    Returns:
        A `WeightsRecord`.

    Raises:
        ValueError: for an unknown source, a model without weights from that source, or
            an unknown tag; each names the close and the known choices.
    """
    records = list_weights(source=check_source(source))
    models = list(dict.fromkeys(r.model for r in records))
    if model not in models:
        raise ValueError(f"No {source} weights for model={model!r}.{_hint(model, models)} "
                         f"Models with {source} weights: {', '.join(models)}.")
    mine = [r for r in records if r.model == model]
    if tag is None:
        if source == "keras":
            return next(r for r in mine if r.include_top == include_top)
        return next(r for r in mine if r.default)
    for r in mine:
        if r.tag == tag:
            return r
    tags = [r.tag for r in mine]
    raise ValueError(f"Unknown tag={tag!r} for {source} weights of {model}."
                     f"{_hint(tag, tags)} Tags: {', '.join(tags)}.")
