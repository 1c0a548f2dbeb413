"""The preprocessing that travels with published weights.

Each catalogue record states the evaluation preprocessing of its published accuracy;
`weights_preprocessing` turns it into kcnn's contract (`kcnn.preprocessing.Preprocessing`,
what `preprocessing.json` holds and what the data pipeline and the exporter apply), with
ImageNet's class names; `preprocess` applies it to images.

Example:
>>> prep = kcnn.weights.weights_preprocessing("resnet50", "torchvision")
>>> prep.image_size, prep.resize_size, prep.channel_order
((224, 224), 232, 'RGB')
>>> x = kcnn.weights.preprocess(image, "keras")   # BGR, caffe mean: (224, 224, 3)
"""

import collections

from kcnn.preprocessing import Preprocessing
from kcnn.weights import catalogue


def record_preprocessing(record, *, class_names=True):
    """The contract of a `WeightsRecord`'s evaluation preprocessing.

    Args:
        record: a `kcnn.weights.WeightsRecord`.
        class_names: bool. Include ImageNet's 1000 class names where the file's head
            classifies ImageNet (`record.classifies`). Defaults to `True`.

    Returns:
        A `Preprocessing`: `image_size` the crop, `crop_fraction` crop / resize, the
        record's scale, mean, std (in its channel order), channel order and antialias.
    """
    p = record.preprocessing
    if p.get("interpolation", "bilinear") != "bilinear":  # every record is; say so if not
        raise ValueError(f"{record.key}: interpolation {p['interpolation']!r} is not "
                         "supported; kcnn resizes bilinearly.")
    crop = int(p["crop"])
    return Preprocessing(
        image_size=(crop, crop), channels=3, scale=p["scale"], mean=tuple(p["mean"]),
        std=tuple(p["std"]),
        class_names=catalogue.imagenet_classes() if class_names and record.classifies
        else None,
        crop_fraction=crop / p["resize"], channel_order=p["channel_order"],
        antialias=bool(p["antialias"]))


def weights_preprocessing(model, source, *, tag=None, include_top=True):
    """The contract of the weights `weights="<source>"` loads into `model`.

    Args:
        model: str. A kcnn model name.
        source: str. "torchvision" or "keras".
        tag: str or None. As `find_weights`. Defaults to `None` (the default file).
        include_top: bool. As `find_weights`; without the top there are no class
            names. Defaults to `True`.

    Returns:
        A `Preprocessing`.
    """
    record = catalogue.find_weights(model, source, tag=tag, include_top=include_top)
    return record_preprocessing(record, class_names=include_top)


def preprocessing_for_weights(model, weights, *, include_top=True, class_names=True):
    """The contract of a builder's `weights=` value for `model`.

    Args:
        model: str. A kcnn model name.
        weights: a source ("torchvision", "torchvision:TAG") or a weights file's path.
            A file gets the preprocessing of its source's default record for `model`
            (or the source's common one, `source_preprocessing`).
        include_top: bool. As `find_weights`. Defaults to `True`.
        class_names: bool. ImageNet's class names where the weights classify ImageNet.
            Defaults to `True`.

    Returns:
        A `Preprocessing`.
    """
    import dataclasses

    from kcnn.weights import pretrained

    source = pretrained.source_of(weights)
    parsed = pretrained.parse_source(weights) if isinstance(weights, str) else None
    if model in {r.model for r in catalogue.list_weights(source=source)}:
        record = catalogue.find_weights(model, source, tag=parsed and parsed[1],
                                        include_top=include_top)
        return record_preprocessing(record, class_names=class_names and include_top)
    prep = source_preprocessing(source)
    return prep if class_names else dataclasses.replace(prep, class_names=None)


def source_preprocessing(source):
    """The evaluation preprocessing most of `source`'s default files share (torchvision:
    resize 256, crop 224, ImageNet mean and std; keras: BGR, caffe mean), with ImageNet's
    class names. Per-file differences (resnet50's V2 resizes to 232) need the model:
    `weights_preprocessing`."""
    records = [r for r in catalogue.list_weights(source=source) if r.default and r.classifies]
    counts = collections.Counter(repr(sorted(r.preprocessing.items())) for r in records)
    common = counts.most_common(1)[0][0]
    return record_preprocessing(next(r for r in records
                                     if repr(sorted(r.preprocessing.items())) == common))


def preprocess(images, source, *, model=None, tag=None):
    """Applies the preprocessing of published weights to images, as the exporter does.

    Args:
        images: uint8 pixels: one image (height, width, 3), a batch (n, height, width,
            3), or a list of images of any sizes.
        source: "torchvision", "keras", or a `Preprocessing`.
        model: str or None. The model whose weights' preprocessing to apply (see
            `weights_preprocessing`); `None`: `source_preprocessing(source)`. Defaults
            to `None`.
        tag: str or None. The weights' tag, with `model`. Defaults to `None`.

    Returns:
        float32 NumPy array, (crop, crop, 3) for one image, else (n, crop, crop, 3).
    """
    import numpy as np

    from kcnn.data.preprocessing import eval_transform

    if isinstance(source, Preprocessing):
        prep = source
    elif model is not None:
        prep = weights_preprocessing(model, source, tag=tag)
    else:
        prep = source_preprocessing(catalogue.check_source(source))
    single = not isinstance(images, (list, tuple)) and np.ndim(images) == 3
    if not isinstance(images, (list, tuple)) and np.ndim(images) not in (3, 4):
        raise ValueError(f"preprocess: images must be one image (height, width, "
                         f"{prep.channels}), a batch (n, height, width, {prep.channels}) or "
                         f"a list of images; got an array of shape {np.shape(images)}.")
    batch = [images] if single else list(images)
    out = []
    for image in batch:
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != prep.channels:
            raise ValueError(f"preprocess: images must be uint8 (height, width, "
                             f"{prep.channels}) pixels; got {image.dtype} of shape "
                             f"{image.shape}.")
        out.append(np.asarray(eval_transform(image, prep)))
    return out[0] if single else np.stack(out)
