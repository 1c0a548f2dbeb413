"""Where images come from: TFDS, a folder of class sub-folders, or the offline digits.

A `Source` is one split in a fixed order, as uint8 images with `channels` channels and
int64 labels. Small data is held as NumPy arrays (`images`) or file paths (`paths`), so an
epoch's order is an exact permutation; large TFDS splits are a `stream`.
"""

import concurrent.futures
import contextlib
import dataclasses
import functools
import logging
import os
import re
import warnings

import numpy as np
import tensorflow as tf

from kcnn.data.decode import MAX_PIXELS, check_max_pixels, decode_image
from kcnn.data.tfds_prepare import is_prepared, prepare_tfds, tfds_builder

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
ON_ERROR = ("skip", "raise")
# TFDS splits with a fixed image shape and at most this many bytes are held in memory (the
# cache: CIFAR-10 is 150 MB); larger ones are streamed and decoded every epoch.
IN_MEMORY_BYTES = 512 << 20

log = logging.getLogger("kcnn.data")
# True inside smoke_data's TFDS mock: builders are read as mocked, never prepared.
_SMOKE_MOCK = False


@dataclasses.dataclass
class Source:
    """One split of a dataset.

    Exactly one of `images` (uint8 array N×H×W×C), `paths` (array of N file names) or
    `stream` (a `tf.data.Dataset` of (uint8 image, int64 label)) is set.
    """

    name: str
    split: str
    num_examples: int
    num_classes: int
    channels: int
    class_names: tuple = None
    images: np.ndarray = None
    paths: np.ndarray = None
    labels: np.ndarray = None
    stream: tf.data.Dataset = None
    skipped: tuple = ()  # (path, reason) of files that could not be read
    max_pixels: int = MAX_PIXELS  # the decoder's bound on a file's width × height


def load_source(name, split, *, data_dir=None, channels=None, on_error="skip",
                holdout=0.2, max_pixels=MAX_PIXELS):
    """Loads one split of dataset `name`.

    Args:
        name: str. `"digits"` (scikit-learn's 8×8 handwritten digits, offline), a TFDS
            name such as `"cifar10"` (read from `data_dir`; if it is not prepared there, it
            is downloaded and prepared as `tfds.load` does, see `prepare_tfds`), or
            `"folder:PATH"` (or an existing directory) with one sub-folder of images per
            class.
        split: str. `"train"`, `"test"` or a TFDS split such as `"validation"`. A folder
            with `train/` and `test/` sub-folders uses them; otherwise (and for digits) a
            fixed, stratified `holdout` fraction is the `"test"` split.
        data_dir: str or None. TFDS data folder. Defaults to TFDS's default.
        channels: int or None. 1 or 3; a folder defaults to 3, others to their own.
        on_error: `"skip"` (warn, count, leave out) or `"raise"` (a `ValueError` naming
            the file) for folder images that cannot be decoded. Defaults to `"skip"`.
        holdout: float in (0, 1). The held-out fraction where no split exists.
        max_pixels: int >= 1. A folder image whose header declares more pixels (width ×
            height) is not decoded: it is unreadable, skipped or an error per `on_error`
            (the exported `serving_default` refuses it the same way). Defaults to
            `kcnn.data.decode.MAX_PIXELS` (100 million).

    Returns:
        A `Source`.

    Raises:
        ValueError: a bad argument, an unknown dataset, an unreadable folder or a class
            folder without readable images (named).
        DatasetUnavailableError: (a `ValueError`) a TFDS dataset that is not prepared and
            cannot be prepared here (offline); the message says how to prepare it.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"`dataset` must be a non-empty string; got dataset={name!r}.")
    if on_error not in ON_ERROR:
        raise ValueError(f"`on_error` must be 'skip' or 'raise'; got on_error={on_error!r}.")
    if channels not in (None, 1, 3):
        raise ValueError(f"`channels` must be 1, 3 or None; got channels={channels!r}.")
    check_max_pixels(max_pixels)
    kind = _kind(name)
    if kind == "digits":
        return _digits(split, channels, holdout)
    if kind == "folder":
        return _folder(name.removeprefix("folder:"), split, channels or 3, on_error, holdout,
                       max_pixels)
    return _tfds(name, split, data_dir, channels)


def _kind(name):
    if name == "digits":
        return "digits"
    return "folder" if name.startswith("folder:") or os.path.isdir(name) else "tfds"


@contextlib.contextmanager
def smoke_data(name, data_dir=None, num_examples=12):
    """The data of a `--smoke` run: dataset `name` if it is here, else TFDS mock data.

    Inside the context, `load_source(name, ...)` reads digits, a folder or a TFDS dataset
    prepared in `data_dir` as usual; a TFDS dataset that is not prepared gives
    `num_examples` random examples per split, generated from its own feature spec by
    `tfds.testing.mock_data`: no network, no download. It prints which of the two it is.

    Args:
        name: str. The dataset, as `load_source` takes it.
        data_dir: str or None. The TFDS data folder.
        num_examples: int. Mock examples per split.
    """
    global _SMOKE_MOCK
    if _kind(name) != "tfds":
        yield
        return
    builder = tfds_builder(name, data_dir)
    root = os.fspath(builder.data_dir_root)
    if is_prepared(builder):
        print(f"--smoke: on {name} as prepared in {root}.")
        yield
        return
    import tensorflow_datasets as tfds
    print(f"--smoke: {name} is not prepared in {root}; on TFDS mock data instead "
          f"({num_examples} random examples per split from its feature spec, no download).")
    with tfds.testing.mock_data(num_examples=num_examples):
        _SMOKE_MOCK = True
        try:
            yield
        finally:
            _SMOKE_MOCK = False


def _holdout_split(labels, split, holdout, root):
    if split not in ("train", "test"):
        raise ValueError(f"{root}: `split` must be 'train' or 'test' (a fixed {holdout:.0%} "
                         f"stratified hold-out); got split={split!r}.")
    rng = np.random.default_rng(0)  # the split never depends on the training seed
    test = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        n = int(round(len(members) * holdout))
        test[rng.permutation(members)[:n]] = True
    return np.flatnonzero(test if split == "test" else ~test)


def _digits(split, channels, holdout):
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ValueError("dataset='digits' needs scikit-learn: pip install scikit-learn") from e
    data = load_digits()
    # 8×8 values in 0..16 → uint8 in 0..255.
    images = np.round(data.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = data.target.astype(np.int64)
    index = _holdout_split(labels, split, holdout, "digits")
    images, labels = images[index], labels[index]
    if channels == 3:
        images = np.repeat(images, 3, axis=-1)
    return Source(name="digits", split=split, num_examples=len(labels), num_classes=10,
                  channels=images.shape[-1], class_names=tuple(str(i) for i in range(10)),
                  images=images, labels=labels)


def _decode(path, channels, max_pixels=MAX_PIXELS):
    """The image file `path` as uint8 (height, width, channels): `decode_image`, bounded."""
    return decode_image(tf.io.read_file(path), channels, max_pixels=max_pixels,
                        name="image file")


@functools.lru_cache(maxsize=None)
def _checker(channels, max_pixels):
    @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
    def shape(path):
        return tf.shape(_decode(path, channels, max_pixels))
    return shape


def _reason(error):
    """The line of a TensorFlow error message that says what is wrong."""
    lines = [line.strip() for line in getattr(error, "message", str(error)).splitlines()]
    lines = [re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", line) for line in lines
             if line and not line.startswith(("[[", "Graph execution error", "Detected at",
                                              "<stack traces"))]
    text = lines[-1] if lines else type(error).__name__
    found = re.search(r"assertion failed: \[Failed to decode image file: (.*)\]", text)
    return found.group(1).replace("an element is not", "not") if found else text


def _check_image(path, channels, max_pixels=MAX_PIXELS):
    """Returns None if `path` decodes as an image, else the reason."""
    try:
        height, width, _ = _checker(channels, max_pixels)(path).numpy()
        if height == 0 or width == 0:
            return "empty image"
    except (tf.errors.OpError, OSError) as e:
        return _reason(e)
    return None


def _folder(root, split, channels, on_error, holdout, max_pixels):
    if not os.path.isdir(root):
        raise ValueError(f"dataset folder {root!r} does not exist or is not a directory.")
    has_splits = os.path.isdir(os.path.join(root, "train"))
    class_root = os.path.join(root, "train") if has_splits else root
    class_names = sorted(d for d in os.listdir(class_root)
                         if os.path.isdir(os.path.join(class_root, d)) and not d.startswith("."))
    if not class_names:
        raise ValueError(f"dataset folder {class_root!r} has no class sub-folders; expected "
                         f"one sub-folder of images per class.")
    split_root = os.path.join(root, split) if has_splits else root
    if has_splits and not os.path.isdir(split_root):
        raise ValueError(f"dataset folder {root!r} has no {split!r} sub-folder.")
    paths, labels = [], []
    for label, cls in enumerate(class_names):
        directory = os.path.join(split_root, cls)
        if not os.path.isdir(directory):
            continue
        for dirpath, dirnames, filenames in os.walk(directory):
            dirnames.sort()
            for f in sorted(filenames):
                if f.lower().endswith(IMAGE_EXTENSIONS):
                    paths.append(os.path.join(dirpath, f))
                    labels.append(label)
    extra = sorted(set(os.listdir(split_root)) - set(class_names)) if has_splits else []
    extra = [d for d in extra if os.path.isdir(os.path.join(split_root, d))]
    if extra:
        raise ValueError(f"{split_root!r} has class folders not in {class_root!r}: {extra}.")
    paths, labels = np.array(paths, dtype=object), np.array(labels, dtype=np.int64)
    defines_classes = split_root == class_root
    if defines_classes:
        _refuse_empty_classes(class_root, class_names, labels, "has no image files "
                              f"({', '.join(IMAGE_EXTENSIONS)})")
    if not has_splits:
        index = _holdout_split(labels, split, holdout, root)
        paths, labels = paths[index], labels[index]
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as ex:
        reasons = list(ex.map(lambda p: _check_image(p, channels, max_pixels), paths))
    bad = [(p, r) for p, r in zip(paths, reasons) if r is not None]
    if bad and on_error == "raise":
        path, reason = bad[0]
        raise ValueError(f"cannot read image file {path!r}: {reason} "
                         f"({len(bad)} unreadable file(s) in {split_root!r}; pass "
                         f"on_error='skip' to leave them out).")
    if bad:
        keep = np.array([r is None for r in reasons])
        paths, labels = paths[keep], labels[keep]
        listing = "; ".join(f"{p} ({r})" for p, r in bad[:5])
        more = f"; and {len(bad) - 5} more" if len(bad) > 5 else ""
        warnings.warn(f"Skipped {len(bad)} of {len(reasons)} files in {split_root!r} that "
                      f"could not be read as images: {listing}{more}.", stacklevel=3)
    if defines_classes and split == "train" and len(paths):
        _refuse_empty_classes(class_root, class_names, labels, "has no readable images "
                              "(all were skipped as unreadable)")
    if len(paths) == 0:
        raise ValueError(f"dataset folder {split_root!r} has no readable images "
                         f"({', '.join(IMAGE_EXTENSIONS)}).")
    return Source(name=f"folder:{root}", split=split, num_examples=len(paths),
                  num_classes=len(class_names), channels=channels,
                  class_names=tuple(class_names), paths=paths.astype(str), labels=labels,
                  skipped=tuple(bad), max_pixels=max_pixels)


def _refuse_empty_classes(class_root, class_names, labels, problem):
    """A class folder without examples would be a class the model predicts but never saw."""
    counts = np.bincount(labels, minlength=len(class_names))
    empty = [os.path.join(class_root, c) for c, n in zip(class_names, counts) if n == 0]
    if empty:
        more = f" (and {len(empty) - 1} more: {empty[1:6]})" if len(empty) > 1 else ""
        raise ValueError(f"class folder {empty[0]!r} {problem}{more}; every sub-folder of "
                         f"{class_root!r} is a class, so an empty one would be a class the "
                         "model can predict but never saw. Add images or remove the folder.")


def _tfds(name, split, data_dir, channels):
    # builder + as_dataset is tfds.load(..., as_supervised=True); preparing goes through
    # prepare_tfds, which fails fast with the remedy when the dataset cannot be downloaded.
    if _SMOKE_MOCK:
        builder = tfds_builder(name, data_dir)
    else:
        builder = prepare_tfds(name, data_dir)
    ds = builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
    info = builder.info
    label = info.features[info.supervised_keys[1]]
    image_shape = tuple(info.features[info.supervised_keys[0]].shape)
    own_channels = image_shape[-1]
    class_names = tuple(label.names) if getattr(label, "names", None) else None
    ds = ds.map(lambda x, y: (x, tf.cast(y, tf.int64)))
    if channels is not None and channels != own_channels:
        convert = tf.image.rgb_to_grayscale if channels == 1 else tf.image.grayscale_to_rgb
        ds = ds.map(lambda x, y: (convert(x), y))
    channels = channels or own_channels
    n = int(ds.cardinality())
    if n < 0:
        log.warning("Counting the examples of %s[%s] (unknown cardinality).", name, split)
        n = int(ds.reduce(np.int64(0), lambda c, _: c + 1))
    source = Source(name=name, split=split, num_examples=n, num_classes=label.num_classes,
                    channels=channels, class_names=class_names, stream=ds)
    if None not in image_shape[:2] and n * np.prod(image_shape[:2]) * channels <= IN_MEMORY_BYTES:
        images, labels = [], []
        for x, y in ds.batch(4096).as_numpy_iterator():
            images.append(x)
            labels.append(y)
        source.images = np.concatenate(images) if images else np.zeros((0, *image_shape[:2], channels), np.uint8)
        source.labels = np.concatenate(labels) if labels else np.zeros((0,), np.int64)
        source.stream = None
    return source
