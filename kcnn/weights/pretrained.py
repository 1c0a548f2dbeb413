"""The builders' `weights=` argument: which file, which form, and the load.

A builder with published weights (`kcnn.models.resnet50`, `vgg16`, `alexnet`,
`googlenet`, ...) takes `weights`, in Keras's vocabulary:

- `None` (default): random initialization;
- a source, `"torchvision"` or `"keras"`: the catalogue's default file of that source
  (`kcnn.weights.find_weights`), downloaded into Keras's cache with its hash checked;
  `"torchvision:IMAGENET1K_V1"` names another file of the source by its tag;
- the path of a weights file (`.pth`, `.safetensors` with torchvision's names, or a
  keras.applications `.h5`): its source is told by its format (HDF5: keras; the others:
  torchvision).

The builder checks the argument (`check_weights`) with its others, before any layer;
`prepare` finds the file (downloading it) and the arguments the source's network needs
(`FORMS`: googlenet's torchvision form, ResNet v1.5 strides), refusing a contradicting
one; after the build, `Prepared.load` loads the file, all or nothing:

- `include_top=True` with the file's 1000 classes: every weight, strictly;
- `include_top=False`: the body; the file's head tensors are left unused;
- `num_classes` other than 1000 (ImageNet's): the body, and the head where the file's
  fits (a file of that many classes), else a fresh (randomly initialized) head with a
  `FreshHeadWarning` that names the new layers.

Anything else the file lacks, or holds and the model does not (a file of another
architecture, another input size under a dense head), refuses the build with a
`WeightsMismatchError` that lists it. No model is returned half-loaded.
"""

import dataclasses
import difflib
import os
import sys
import warnings

from kcnn.weights import catalogue

# The builder arguments that each source's network needs, where kcnn's defaults or
# options allow another form. `None` passed for one of these means "as the weights need".
FORMS = {
    ("googlenet", "torchvision"): {"form": "torchvision", "batch_norm": True,
                                   "branch3_kernel_size": 3, "transform_input": True},
    **{(f"resnet{d}", "torchvision"): {"stride_in_1x1": False}
       for d in (18, 34, 50, 101, 152)},
}
# The tensors of each source's classifier (unused when a model has `include_top=False`).
_HEAD_PREFIXES = {"torchvision": ("fc.", "classifier.", "aux1.", "aux2."),
                  "keras": ("fc1", "fc2", "predictions")}
_PATH_SOURCE = {"keras_h5": "keras", "safetensors": "torchvision",
                "torch_zip": "torchvision", "torch_legacy": "torchvision"}
IMAGENET_CLASSES = 1000


class FreshHeadWarning(UserWarning):
    """Pretrained weights were loaded into the body; the head is new and untrained."""


def _expected():
    return (f"None, a weights source ({', '.join(map(repr, catalogue.SOURCES))}, or "
            f"'source:TAG'), or the path of a weights file")


def parse_source(value):
    """`(source, tag)` for "torchvision" or "torchvision:IMAGENET1K_V1"; None otherwise."""
    source, _, tag = value.partition(":")
    if source in catalogue.SOURCES:
        return source, tag or None
    return None


def check_weights(model, weights):
    """Checks a builder's `weights` argument without reading or downloading anything.

    Args:
        model: str. The builder's registered name.
        weights: the argument.

    Returns:
        `weights`.

    Raises:
        TypeError: not None, a str or a path-like.
        ValueError: a model without published weights (its builder takes no
            `weights`), a source without weights for `model`, an unknown tag, or a string
            that is neither a source nor an existing file (close sources suggested).
    """
    if weights is None:
        return weights
    from kcnn.models import list_models, model_info

    if model in list_models() and not model_info(model).weights:
        with_weights = [m for m in list_models() if model_info(m).weights]
        raise ValueError(
            f"{model}: no published weights, and its builder takes no `weights` (kcnn "
            f"converts torchvision's and keras.applications' files, for "
            f"{', '.join(with_weights)}); a model trained with kcnn is its run folder or "
            ".keras file.")
    if not isinstance(weights, (str, os.PathLike)) or isinstance(weights, bytes):
        raise TypeError(f"{model}: `weights` must be {_expected()}; got "
                        f"weights={weights!r} (a {type(weights).__name__}).")
    text = os.fspath(weights)
    if not isinstance(text, str):
        raise TypeError(f"{model}: `weights` must be {_expected()}; got "
                        f"weights={weights!r} (a path of bytes).")
    parsed = parse_source(text) if isinstance(weights, str) else None
    if parsed is not None:
        try:
            catalogue.find_weights(model, parsed[0], tag=parsed[1])
        except ValueError as error:
            raise ValueError(f"{model}: `weights`={weights!r}: {error}") from None
        return weights
    if os.path.isfile(text):
        return weights
    hint = ""
    close = difflib.get_close_matches(text, catalogue.SOURCES, n=2, cutoff=0.5)
    if close:
        hint = f" Did you mean {', '.join(map(repr, close))}?"
    elif text.lower() == "imagenet":
        hint = (" Keras's 'imagenet' is ambiguous here: give the source, 'torchvision' or "
                "'keras' (kcnn.weights.list_weights() lists them).")
    raise ValueError(f"{model}: `weights`={weights!r} is neither a weights source nor an "
                     f"existing file; `weights` must be {_expected()}.{hint}")


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A weights file found for a build: see `prepare`.

    Attributes:
        model: str. The builder's registered name.
        source: str. "torchvision" or "keras" (the file's names and layouts).
        path: str. The local file.
        record: `WeightsRecord` or None. The catalogue's record (None for a path).
    """

    model: str
    source: str
    path: str
    record: object = None

    @property
    def label(self):
        """The weights, for messages: the record's file and tag, or the path."""
        if self.record is not None:
            return f"the {self.source} weights {self.record.tag} ({self.record.file_name})"
        return self.path

    def load(self, model, *, include_top, num_classes):
        """Loads the file into the freshly built `model` (see the module docstring).

        Returns:
            `model`.

        Raises:
            WeightsMismatchError: (a ValueError) the file does not fit `model`.
        """
        from kcnn.weights import _convert, readers

        state = readers.read_weights(self.path)
        if self.source == "keras":
            from kcnn.weights.convert_keras import load_keras as loader
        else:
            from kcnn.weights.convert_torchvision import load_torchvision as loader
        fresh = include_top and num_classes != IMAGENET_CLASSES
        if include_top and not fresh:
            loader(model, state, strict=True, source=self.label)
            return model
        report = loader(model, state, strict=False, source=self.label)
        problems = _convert.LoadReport(
            missing=report.missing,
            mismatched=[m for m in report.mismatched if not _head_mismatch(m, num_classes)],
            unexpected=[k for k in report.unexpected
                        if include_top or not k.startswith(_HEAD_PREFIXES[self.source])])
        if not problems.complete:
            raise _convert.WeightsMismatchError(
                f"{self.label} do not fit this {self.model!r} model beyond its head "
                f"(include_top={include_top}, num_classes={num_classes}); the model was "
                f"not returned:\n{problems.describe()}", report)
        if fresh and report.not_loaded:  # (a file of num_classes classes fills it all)
            layers = sorted({p.rsplit("/", 1)[0] for p in report.not_loaded})
            warnings.warn(
                f"{self.model}: loaded {self.label} into the body; the head "
                f"({', '.join(layers)}) is new for num_classes={num_classes} and randomly "
                "initialized: train it.", FreshHeadWarning, stacklevel=_caller_level())
        return model


def _caller_level():
    """`warnings.warn`'s stacklevel for the first caller outside kcnn (the builder's)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(root + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def _head_mismatch(mismatch, num_classes):
    """A shape mismatch that only the number of classes makes (a fresh head): the shapes
    differ only where the model's has `num_classes`."""
    _, file_shape, _, expected = mismatch
    return (len(file_shape) == len(expected)
            and all(a == b or b == num_classes for a, b in zip(file_shape, expected)))


def source_of(weights):
    """The source whose names a `weights` value holds (a source name, or a file's format)."""
    parsed = parse_source(weights) if isinstance(weights, str) else None
    if parsed is not None:
        return parsed[0]
    from kcnn.weights import readers
    return _PATH_SOURCE[readers.detect_format(weights)]


def required_arguments(model, source):
    """The builder arguments `source`'s network needs (`FORMS`), as a dict."""
    return dict(FORMS.get((model, source), {}))


def prepare(model, weights, *, include_top, arguments):
    """Finds the file for `weights` and the builder arguments its network needs.

    Args:
        model: str. The builder's registered name.
        weights: a value `check_weights` accepted, not None.
        include_top: bool. The build's (picks keras.applications' file with or without
            the top).
        arguments: dict. The builder's form arguments as given (`None`: its default).

    Returns:
        `(Prepared, arguments)`: the file, and `arguments` with each `None` replaced by
        what the weights need.

    Raises:
        ValueError: an argument that contradicts the weights' network, naming both.
        WeightsDownloadError, WeightsHashError: as `kcnn.weights.fetch_weights`.
        WeightsFileError: a path that is not a weights file.
    """
    source = source_of(weights)
    resolved = dict(arguments)
    for arg, want in required_arguments(model, source).items():
        given = arguments.get(arg)
        if given is None:
            resolved[arg] = want
        elif given != want or type(given) is not type(want):
            raise ValueError(
                f"{model}: `weights`={os.fspath(weights)!r} are for {arg}={want!r} (the "
                f"network they were trained as); got {arg}={given!r}. Leave `{arg}` out.")
    if isinstance(weights, str) and parse_source(weights) is not None:
        from kcnn.weights import download
        _, tag = parse_source(weights)
        record = catalogue.find_weights(model, source, tag=tag, include_top=include_top)
        return Prepared(model, source, download.download_weights(record), record), resolved
    return Prepared(model, source, os.fspath(weights)), resolved
