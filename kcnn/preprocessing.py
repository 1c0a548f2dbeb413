"""The preprocessing contract: what a model expects of an image, and `preprocessing.json`.

One definition, read and written by the trainer (`kcnn.train`), the input pipelines
(`kcnn.data`, which apply it with TensorFlow ops) and the exporter (`kcnn.export`, which
bakes it into the SavedModel's graph). Standard library only: it imports neither
TensorFlow nor Keras, so code that runs under the JAX backend can use it too.

The file, as a training run writes it next to `model.keras`:

```json
{"image_size": [H, W], "channels": C, "scale": s,
 "mean": [m_1, ..., m_C], "std": [s_1, ..., s_C], "class_names": ["cat", ...] or null,
 "crop_fraction": f, "channel_order": "BGR", "antialias": true}
```

meaning: decode the image to uint8 in [0, 255] with C channels → resize to (H, W),
bilinear → float32 → `x * scale` → `(x - mean) / std` per channel → model.

The last three keys are optional and written only where they differ from their defaults
(so a file without them means what it always meant):

- `crop_fraction` (default null: no crop): the center crop's share of the resized image,
  as timm's `crop_pct`; for a square `image_size` (S, S) only. The image is resized so
  that its shorter side is `round(S / crop_fraction)` (the longer side in proportion,
  rounded down, as torchvision's `Resize(int)`), then the center (S, S) is cut out (top
  and left offsets rounded half to even, as torchvision's `CenterCrop`). torchvision's
  evaluation (resize 256, crop 224) is `crop_fraction=0.875`.
- `channel_order` (default "RGB"): "BGR" feeds the channels reversed, as
  keras.applications' caffe-style VGG weights expect; `mean` and `std` are then in BGR
  order (e.g. the caffe mean `[103.939, 116.779, 123.68]` with `scale=1`).
- `antialias` (default false): the resize filters as it shrinks (torchvision's
  `antialias=True` and PIL's resize; TensorFlow's `antialias=True`).

Compatibility: the keys in `REQUIRED` are in every file ever written. A key added later
is optional when read, with a default that means what files without it always meant, so
files written by earlier versions keep loading. Unknown keys are an error (a typo must
not be silently ignored).
"""

import dataclasses
import json
import math
import os
import typing

from kcnn.io import atomic_write_text

FILENAME = "preprocessing.json"
CHANNELS = (1, 3)  # grayscale or RGB
REQUIRED = ("image_size", "channels", "scale", "mean", "std")
CHANNEL_ORDERS = ("RGB", "BGR")
# The optional keys, and the defaults that files without them mean.
OPTIONAL_DEFAULTS = {"crop_fraction": None, "channel_order": "RGB", "antialias": False}


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """What a model expects of an image (see the module docstring for the exact steps).

    Args:
        image_size: tuple of 2 ints. Height and width after resizing.
        channels: int. 1 (grayscale) or 3 (RGB).
        scale: float. Multiplies the uint8 pixel values. Defaults to 1/255.
        mean: tuple of `channels` floats, subtracted after scaling. Defaults to zeros.
        std: tuple of `channels` floats (> 0), divides after subtracting the mean.
            Defaults to ones.
        class_names: tuple of str or None. Names of the label indices. Defaults to None.
        crop_fraction: float in (0, 1] or None. Resize to `image_size / crop_fraction`
            (shorter side) and center-crop `image_size` (square only). Defaults to None
            (resize to `image_size`, no crop).
        channel_order: "RGB" or "BGR" (3 channels). Defaults to "RGB".
        antialias: bool. Antialiased resizing. Defaults to False.
        source: str or None. Where the contract came from (a file), named in error
            messages; not part of the contract (not saved, not compared).

    Example:
    >>> prep = Preprocessing(image_size=(32, 32), channels=1, mean=(0.3,), std=(0.4,))
    >>> prep.save("runs/x")
    'runs/x/preprocessing.json'
    >>> Preprocessing.load("runs/x") == prep
    True
    """

    image_size: tuple
    channels: int
    scale: float = 1.0 / 255.0
    mean: tuple = None
    std: tuple = None
    class_names: tuple = None
    crop_fraction: typing.Optional[float] = None
    channel_order: str = "RGB"
    antialias: bool = False
    source: typing.Optional[str] = dataclasses.field(default=None, compare=False,
                                                     repr=False, kw_only=True)

    def __post_init__(self):
        channels = self.channels
        mean = (0.0,) * channels if self.mean is None and _is_channels(channels) else self.mean
        std = (1.0,) * channels if self.std is None and _is_channels(channels) else self.std
        problem = (_problem(self.image_size, channels, self.scale, mean, std, self.class_names)
                   or _problem_optional(self.image_size, channels, self.crop_fraction,
                                        self.channel_order, self.antialias))
        if problem:
            self._fail(problem)
        set_ = object.__setattr__
        set_(self, "image_size", tuple(int(d) for d in self.image_size))
        set_(self, "channels", int(channels))
        set_(self, "scale", float(self.scale))
        set_(self, "mean", tuple(float(v) for v in mean))
        set_(self, "std", tuple(float(v) for v in std))
        if self.class_names is not None:
            set_(self, "class_names", tuple(self.class_names))
        if self.crop_fraction is not None:
            set_(self, "crop_fraction", float(self.crop_fraction))

    @property
    def resize_size(self):
        """The shorter side the image is resized to before the center crop; None
        without `crop_fraction` (the image is resized to `image_size`)."""
        if self.crop_fraction is None:
            return None
        return int(round(self.image_size[0] / self.crop_fraction))

    def _fail(self, message):
        raise ValueError(f"{self.source or 'Preprocessing'}: {message}")

    # -- the file ------------------------------------------------------------------------
    @classmethod
    def keys(cls):
        """The keys of `preprocessing.json`, in file order."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.name != "source")

    def to_dict(self):
        """The contract as the JSON-able dict that `preprocessing.json` holds."""
        data = {"image_size": list(self.image_size), "channels": self.channels,
                "scale": self.scale, "mean": list(self.mean), "std": list(self.std),
                "class_names": None if self.class_names is None else list(self.class_names)}
        # The optional keys only where they differ from what files without them mean.
        data.update({k: getattr(self, k) for k, default in OPTIONAL_DEFAULTS.items()
                     if getattr(self, k) != default})
        return data

    @classmethod
    def from_dict(cls, data, source=None):
        """Builds the contract from a dict in the file's schema.

        Args:
            data: dict. `REQUIRED` keys, optionally `class_names` and the keys of
            `OPTIONAL_DEFAULTS`, nothing else.
            source: str or None. Where `data` came from, for the error messages.
                Defaults to `"preprocessing"`.

        Raises:
            ValueError: naming `source` and the key or field that is wrong.
        """
        source = source or "preprocessing"
        keys = cls.keys()
        if not isinstance(data, dict):
            raise ValueError(f"{source}: must be a dict with keys {', '.join(keys)}; got "
                             f"{type(data).__name__}.")
        missing = [k for k in REQUIRED if k not in data]
        unknown = sorted(set(data) - set(keys))
        if missing or unknown:
            raise ValueError(f"{source}: must have the keys {', '.join(REQUIRED)} (and "
                             f"optionally {', '.join(k for k in keys if k not in REQUIRED)}); "
                             f"missing {missing}, unknown {unknown}.")
        return cls(**data, source=source)

    def save(self, directory):
        """Writes `preprocessing.json` into `directory` atomically; returns its path."""
        path = os.path.join(directory, FILENAME)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path):
        """Reads a `preprocessing.json` file, or the one in folder `path`.

        Raises:
            FileNotFoundError: if the file does not exist.
            ValueError: if it is not JSON or does not follow the schema; the message
                names the file and the field.
        """
        path = os.fspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, FILENAME)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Preprocessing file {path!r} does not exist.")
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"Preprocessing file {path!r} is not valid JSON: {e}.") from e
        return cls.from_dict(data, source=path)

    # -- agreement with a model (duck-typed: no Keras import) -----------------------------
    @classmethod
    def default_for(cls, model):
        """The contract used when none is given: the model's input size, pixels / 255.

        Args:
            model: a Keras model with a fixed input height and width.

        Returns:
            `Preprocessing(image_size=(H, W), channels=C)`: scale 1/255, mean 0, std 1,
            no class names.
        """
        height, width, channels = _input_hwc(model)
        if height is None or width is None:
            raise ValueError(
                f"Model {model.name!r} has input shape {model.input_shape}: without a fixed "
                "height and width the image size cannot be defaulted; pass a "
                "preprocessing with `image_size`.")
        return cls(image_size=(height, width), channels=channels)

    def check_model(self, model):
        """Raises `ValueError` unless `model` takes what this contract produces.

        `channels` must equal the model's input channels, `image_size` its input height
        and width (where fixed), and `class_names` (when given) must have one name per
        output class. Returns `self`.
        """
        height, width, channels = _input_hwc(model)
        if self.channels != channels:
            self._fail(f"`channels`={self.channels} but model {model.name!r} takes "
                       f"{channels}-channel input {model.input_shape}.")
        for axis, want, have in (("height", self.image_size[0], height),
                                 ("width", self.image_size[1], width)):
            if have is not None and want != have:
                self._fail(f"`image_size`={list(self.image_size)} but model {model.name!r} "
                           f"has input {axis} {have} (input shape {model.input_shape}).")
        num_classes = model.output_shape[-1] if isinstance(model.output_shape, tuple) else None
        if self.class_names is not None and num_classes is not None and (
                len(self.class_names) != num_classes):
            self._fail(f"`class_names` has {len(self.class_names)} names but model "
                       f"{model.name!r} predicts {num_classes} classes.")
        return self

    @classmethod
    def resolve(cls, preprocessing, model):
        """`preprocessing` as a contract checked against `model`.

        Args:
            preprocessing: a `Preprocessing`, a dict in the file's schema, or None
                (`default_for(model)`).
            model: the (single-output) Keras model it is for.
        """
        if preprocessing is None:
            preprocessing = cls.default_for(model)
        elif isinstance(preprocessing, dict):
            preprocessing = cls.from_dict(preprocessing)
        elif not isinstance(preprocessing, cls):
            raise ValueError(f"`preprocessing` must be a Preprocessing, a dict or None; got "
                             f"{type(preprocessing).__name__}.")
        return preprocessing.check_model(model)


def _problem(size, channels, scale, mean, std, class_names):
    """The first thing wrong with these values, as a message naming the field; or None."""
    if (not isinstance(size, (list, tuple)) or len(size) != 2
            or not all(_is_int(v) and v >= 1 for v in size)):
        return f"`image_size` must be [height, width], two ints >= 1; got {size!r}."
    if not _is_channels(channels):
        return f"`channels` must be one of {CHANNELS}; got {channels!r}."
    if not _is_number(scale) or not scale > 0:
        return f"`scale` must be a number > 0; got {scale!r}."
    for key, value, positive in (("mean", mean, False), ("std", std, True)):
        if (not isinstance(value, (list, tuple)) or len(value) != channels
                or not all(_is_number(x) and (x > 0 or not positive) for x in value)):
            what = "numbers > 0" if positive else "numbers"
            return (f"`{key}` must be a list of {channels} {what} (one per channel); "
                    f"got {value!r}.")
    if class_names is not None and (not isinstance(class_names, (list, tuple)) or not class_names
                                    or not all(isinstance(n, str) for n in class_names)):
        return (f"`class_names` must be null or a non-empty list of strings; "
                f"got {class_names!r}.")
    return None


def _problem_optional(size, channels, crop_fraction, channel_order, antialias):
    """The first thing wrong with the optional fields (after `_problem`), or None."""
    if crop_fraction is not None:
        if not _is_number(crop_fraction) or not 0 < crop_fraction <= 1:
            return (f"`crop_fraction` must be null or a number in (0, 1]; "
                    f"got {crop_fraction!r}.")
        if size[0] != size[1]:
            return (f"`crop_fraction` needs a square `image_size`; got image_size="
                    f"{list(size)!r}.")
    if channel_order not in CHANNEL_ORDERS:
        return f"`channel_order` must be one of {CHANNEL_ORDERS}; got {channel_order!r}."
    if channel_order != "RGB" and channels != 3:
        return f"`channel_order`={channel_order!r} needs 3 channels; got channels={channels}."
    if not isinstance(antialias, bool):
        return f"`antialias` must be true or false; got {antialias!r}."
    return None


def _input_hwc(model):
    shape = model.input_shape
    if isinstance(shape, list) or len(shape) != 4:
        raise ValueError(f"Model {model.name!r} must take one image input of shape "
                         f"(batch, height, width, channels); its input shape is {shape}.")
    _, height, width, channels = shape
    if channels is None:
        raise ValueError(f"Model {model.name!r} has an unknown number of input channels.")
    return height, width, channels


def _is_channels(v):
    return _is_int(v) and v in CHANNELS


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
