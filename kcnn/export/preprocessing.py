"""The preprocessing a SavedModel bakes into its graph: checked, loaded and defaulted.

The schema is the one a training run writes to `preprocessing.json`:

```json
{"image_size": [H, W], "channels": C, "scale": s,
 "mean": [m_1, ..., m_C], "std": [s_1, ..., s_C], "class_names": ["cat", ...] or null}
```

meaning: decode the image to uint8 in [0, 255] with C channels, resize it to (H, W)
with bilinear interpolation, convert to float32, multiply by `scale`, then subtract
`mean` and divide by `std` per channel.
"""

import json
import math
import os

KEYS = ("image_size", "channels", "scale", "mean", "std", "class_names")
CHANNELS = (1, 3)  # grayscale or RGB, as the trainer


def default_preprocessing(model):
    """The preprocessing used when none is given: pixels scaled to [0, 1].

    `image_size` and `channels` are the model's input size; `scale` is 1/255, `mean` 0
    and `std` 1 for every channel; `class_names` is `None`.

    Args:
        model: a `keras.Model` with a fixed input height and width.

    Returns:
        A preprocessing dict.
    """
    height, width, channels = _input_hwc(model)
    if height is None or width is None:
        raise ValueError(
            f"Model {model.name!r} has input shape {model.input_shape}: without a fixed "
            "height and width the image size cannot be defaulted; pass a `preprocessing` "
            "dict with `image_size`."
        )
    return {"image_size": [height, width], "channels": channels, "scale": 1 / 255,
            "mean": [0.0] * channels, "std": [1.0] * channels, "class_names": None}


def load_preprocessing(path):
    """Reads and checks a `preprocessing.json` file.

    Args:
        path: str or path. The JSON file.

    Returns:
        The preprocessing dict.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if it is not JSON or does not follow the schema; the message names
            the file and the field.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Preprocessing file {path!r} does not exist.")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"Preprocessing file {path!r} is not valid JSON: {e}.") from e
    return check_preprocessing(data, source=path)


def check_preprocessing(preprocessing, model=None, source="preprocessing"):
    """Validates a preprocessing dict (and its agreement with `model`); raises `ValueError`.

    Args:
        preprocessing: dict in the schema above.
        model: a `keras.Model` or None. When given, `channels` must equal its input
            channels, `image_size` its input height and width (where fixed), and
            `class_names` must have one name per output class.
        source: str. Where the dict came from, for the messages.

    Returns:
        A normalized copy: lists of floats and ints, `class_names` a list or None.
    """
    def fail(msg):
        raise ValueError(f"{source}: {msg}")

    if not isinstance(preprocessing, dict):
        fail(f"must be a dict with keys {', '.join(KEYS)}; got {type(preprocessing).__name__}.")
    missing = [k for k in KEYS if k not in preprocessing]
    unknown = sorted(set(preprocessing) - set(KEYS))
    if missing or unknown:
        fail(f"must have exactly the keys {', '.join(KEYS)}; missing {missing}, "
             f"unknown {unknown}.")
    p = preprocessing

    size = p["image_size"]
    if (not isinstance(size, (list, tuple)) or len(size) != 2
            or not all(_is_int(v) and v >= 1 for v in size)):
        fail(f"`image_size` must be [height, width], two ints >= 1; got {size!r}.")
    channels = p["channels"]
    if not _is_int(channels) or channels not in CHANNELS:
        fail(f"`channels` must be one of {CHANNELS}; got {channels!r}.")
    scale = p["scale"]
    if not _is_number(scale) or not scale > 0:
        fail(f"`scale` must be a number > 0; got {scale!r}.")
    for key, positive in (("mean", False), ("std", True)):
        v = p[key]
        if (not isinstance(v, (list, tuple)) or len(v) != channels
                or not all(_is_number(x) and (x > 0 if positive else True) for x in v)):
            what = "numbers > 0" if positive else "numbers"
            fail(f"`{key}` must be a list of {channels} {what} (one per channel); got {v!r}.")
    names = p["class_names"]
    if names is not None and (not isinstance(names, (list, tuple)) or not names
                              or not all(isinstance(n, str) for n in names)):
        fail(f"`class_names` must be null or a non-empty list of strings; got {names!r}.")

    if model is not None:
        height, width, model_channels = _input_hwc(model)
        if channels != model_channels:
            fail(f"`channels`={channels} but model {model.name!r} takes "
                 f"{model_channels}-channel input {model.input_shape}.")
        for axis, want, have in (("height", size[0], height), ("width", size[1], width)):
            if have is not None and want != have:
                fail(f"`image_size`={list(size)} but model {model.name!r} has input "
                     f"{axis} {have} (input shape {model.input_shape}).")
    return {"image_size": [int(size[0]), int(size[1])], "channels": int(channels),
            "scale": float(scale), "mean": [float(x) for x in p["mean"]],
            "std": [float(x) for x in p["std"]],
            "class_names": None if names is None else list(names)}


def _input_hwc(model):
    shape = model.input_shape
    if isinstance(shape, list) or len(shape) != 4:
        raise ValueError(
            f"Model {model.name!r} must take one image input of shape "
            f"(batch, height, width, channels); its input shape is {shape}."
        )
    _, height, width, channels = shape
    if channels is None:
        raise ValueError(f"Model {model.name!r} has an unknown number of input channels.")
    return height, width, channels


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return (isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v))
