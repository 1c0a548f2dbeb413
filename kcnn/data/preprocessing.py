"""The evaluation preprocessing contract, shared with `kcnn.export`.

A trained model's output folder holds `preprocessing.json`:

    {"image_size": [H, W], "channels": C, "scale": s, "mean": [..C], "std": [..C],
     "class_names": [...] or null}

meaning: decode the image to uint8 in [0, 255] with C channels → resize to (H, W),
bilinear → float32 → `x * scale` → `(x - mean) / std` per channel → model.
`eval_transform` is exactly that; training adds augmentation around it.
"""

import dataclasses
import json
import math
import os

import tensorflow as tf

from kcnn.io import atomic_write_text

FILENAME = "preprocessing.json"


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """What a model expects of an image.

    Args:
        image_size: tuple of 2 ints. Height and width after resizing.
        channels: int. 1 (grayscale) or 3 (RGB).
        scale: float. Multiplies the uint8 pixel values. Defaults to 1/255.
        mean: tuple of `channels` floats, subtracted after scaling. Defaults to zeros.
        std: tuple of `channels` floats (> 0), divides after subtracting the mean.
            Defaults to ones.
        class_names: list of str or None. Names of the label indices.
    """

    image_size: tuple
    channels: int
    scale: float = 1.0 / 255.0
    mean: tuple = None
    std: tuple = None
    class_names: tuple = None

    def __post_init__(self):
        size = self.image_size
        if (not isinstance(size, (tuple, list)) or len(size) != 2
                or not all(isinstance(d, int) and d > 0 for d in size)):
            raise ValueError(f"`image_size` must be 2 positive ints (height, width); "
                             f"got image_size={size!r}.")
        if self.channels not in (1, 3):
            raise ValueError(f"`channels` must be 1 or 3; got channels={self.channels!r}.")
        for arg, default in (("mean", 0.0), ("std", 1.0)):
            if getattr(self, arg) is None:
                object.__setattr__(self, arg, (default,) * self.channels)
            value = getattr(self, arg)
            if (not isinstance(value, (tuple, list)) or len(value) != self.channels
                    or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in value)):
                raise ValueError(f"`{arg}` must be {self.channels} finite numbers (one per "
                                 f"channel); got {arg}={value!r}.")
        if any(v <= 0 for v in self.std):
            raise ValueError(f"`std` must be > 0 per channel; got std={self.std!r}.")
        if not (isinstance(self.scale, (int, float)) and math.isfinite(self.scale)
                and self.scale > 0):
            raise ValueError(f"`scale` must be a positive number; got scale={self.scale!r}.")
        object.__setattr__(self, "image_size", tuple(int(d) for d in size))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if self.class_names is not None:
            object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))

    def to_dict(self):
        return {"image_size": list(self.image_size), "channels": self.channels,
                "scale": float(self.scale), "mean": list(self.mean), "std": list(self.std),
                "class_names": None if self.class_names is None else list(self.class_names)}

    def save(self, directory):
        """Writes `preprocessing.json` into `directory` atomically; returns its path."""
        path = os.path.join(directory, FILENAME)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path):
        """Reads a `preprocessing.json` file (or the folder that holds one)."""
        if os.path.isdir(path):
            path = os.path.join(path, FILENAME)
        try:
            with open(path) as f:
                data = json.load(f)
            return cls(image_size=tuple(data["image_size"]), channels=data["channels"],
                       scale=data["scale"], mean=tuple(data["mean"]), std=tuple(data["std"]),
                       class_names=data.get("class_names"))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"Cannot read preprocessing file {path!r}: expected JSON with "
                             f"image_size, channels, scale, mean, std, class_names ({e}).") from e


def to_float(image, prep):
    """uint8 image → float32 with the contract's `scale` applied (no normalization)."""
    return tf.cast(image, tf.float32) * prep.scale


def normalize(image, prep):
    """`(x - mean) / std` per channel, on an already scaled float image."""
    mean = tf.constant(prep.mean, tf.float32)
    std = tf.constant(prep.std, tf.float32)
    return (image - mean) / std


def eval_transform(image, prep):
    """The contract: uint8 (H', W', C) → bilinear resize → float32 → scale → normalize."""
    image = tf.image.resize(image, prep.image_size, method="bilinear")
    return normalize(tf.cast(image, tf.float32) * prep.scale, prep)
