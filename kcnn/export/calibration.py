"""Images for int8 quantization: calibration from the training split, top-1 on the held-out one.

Both come from the dataset a training run's `config.json` names (or one given), through
`kcnn.data` (`load_source`, `pixel_batches`): pixels in [0, 255], resized (and cropped)
to the contract's size, as the exported graphs take them.
"""

import dataclasses
import json
import os

import numpy as np

from kcnn.data import load_source, pixel_batches
from kcnn.export.portable import CALIBRATION_IMAGES

CONFIG_FILE = "config.json"
CALIBRATION_SEED = 0


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """Where a model's training data is: `dataset` as `kcnn.data.load_source` takes it."""
    dataset: str
    train_split: str = "train"
    eval_split: str = "test"
    data_dir: str | None = None
    on_error: str = "skip"
    max_pixels: int | None = None

    @classmethod
    def from_run(cls, run_dir):
        """The data of a training run (its `config.json`), or None without one."""
        path = os.path.join(run_dir, CONFIG_FILE)
        if not os.path.isfile(path):
            return None
        try:
            with open(path, encoding="utf-8") as f:
                config = json.load(f)
            keys = {f.name for f in dataclasses.fields(cls)}
            return cls(**{k: v for k, v in config.items() if k in keys and v is not None})
        except (ValueError, TypeError) as e:
            raise ValueError(f"Cannot read the dataset from {path!r}: {e}") from e


def _source(spec, split, channels):
    kwargs = {} if spec.max_pixels is None else {"max_pixels": spec.max_pixels}
    return load_source(spec.dataset, split, data_dir=spec.data_dir, channels=channels,
                       on_error=spec.on_error, **kwargs)


def calibration_batches(spec, prep, num_images=CALIBRATION_IMAGES, batch_size=32):
    """`num_images` training images (a seeded random choice) as float32 pixel batches."""
    source = _source(spec, spec.train_split, prep.channels)
    return [x.numpy() for x, _ in pixel_batches(source, prep, batch_size=batch_size,
                                                max_examples=num_images,
                                                seed=CALIBRATION_SEED)]


def evaluation_data(spec, prep, max_examples=None):
    """(pixels float32 [n, h, w, c], labels [n]) of the held-out split, in its order."""
    source = _source(spec, spec.eval_split, prep.channels)
    xs, ys = [], []
    for x, y in pixel_batches(source, prep, batch_size=256, max_examples=max_examples):
        xs.append(x.numpy())
        ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys)
