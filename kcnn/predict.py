"""Classify image files with a pretrained model or a training run (`kcnn predict`).

The images go through the preprocessing contract exactly as the exported SavedModel's
`serving_default` does (decode, resize and center-crop, channel order, scale,
normalize: `kcnn.data.preprocessing`), so the same file gets the same top-k here and
from TF Serving.

Example:
>>> model, prep = load_predictor("resnet50", weights="torchvision")
>>> top = predict_files(model, prep, ["cat.jpg"], top_k=3)[0]
>>> index, name, probability = top[0]      # the best class of cat.jpg
"""

import os

from kcnn.preprocessing import Preprocessing

MODEL_FILE = "model.keras"


def load_predictor(target, weights=None, preprocessing=None):
    """The model and its preprocessing contract for `target`.

    Args:
        target: str. A registered model name (then `weights` is needed), a training
            run's folder (`model.keras` + `preprocessing.json`) or a `.keras` file (with
            a `preprocessing.json` beside it, else pixels / 255 at its input size).
        weights: str or None. With a model name: a weights source ("torchvision",
            "keras", "torchvision:TAG") or a weights file, as the builders' `weights=`;
            the preprocessing is the weights' (`kcnn.weights.preprocessing_for_weights`).
        preprocessing: str or None. With a model name: a `preprocessing.json` to use
            instead of the weights' (the model is built at its `image_size`).

    Returns:
        `(model, preprocessing)`: the single-output inference model and the contract.

    Raises:
        ValueError: a model name without `weights`, `weights` with a run, an unknown
            name; FileNotFoundError: a run folder without its files.
    """
    from kcnn.models import get_model, list_models
    from kcnn.models.heads import inference_model

    if os.path.isdir(target) or target.endswith(".keras") or os.path.isfile(target):
        if weights is not None or preprocessing is not None:
            raise ValueError(f"{target!r} is a trained model: it has its weights and "
                             "preprocessing; --weights and --preprocessing are for a "
                             "model name.")
        from kcnn.saving import load_model
        from kcnn.export._cli import resolve_source

        model_file, prep_file = resolve_source(target)
        model = inference_model(load_model(model_file))
        prep = (Preprocessing.load(prep_file) if prep_file
                else Preprocessing.default_for(model))
        return model, prep.check_model(model)
    if target not in list_models():
        get_model(target)  # the registry's error: close names suggested
    if weights is None:
        raise ValueError(f"model {target!r} without --weights has random weights; give "
                         "--weights SOURCE (`kcnn weights` lists them) or a weights file.")
    from kcnn.weights.pretrained import check_weights
    from kcnn.weights.preprocessing import preprocessing_for_weights

    check_weights(target, weights)
    prep = (Preprocessing.load(preprocessing) if preprocessing is not None
            else preprocessing_for_weights(target, weights))
    model = get_model(target, weights=weights, input_shape=(*prep.image_size, prep.channels))
    return inference_model(model), prep.check_model(inference_model(model))


def read_images(paths, prep):
    """The files decoded and preprocessed as the contract says: float32 (n, H, W, C)."""
    import tensorflow as tf

    from kcnn.data.preprocessing import eval_transform

    images = []
    for path in paths:
        with open(path, "rb") as file:
            data = file.read()
        # As the exporter's decode: GIF and BMP decode to RGB only, so a grayscale model
        # gets them through rgb_to_grayscale's weights, rounded.
        via_rgb = prep.channels == 1 and (data[:4] == b"GIF8" or data[:2] == b"BM")
        try:
            image = tf.io.decode_image(data, channels=3 if via_rgb else prep.channels,
                                       expand_animations=False, dtype=tf.uint8)
        except tf.errors.InvalidArgumentError:
            raise ValueError(f"{path}: not a JPEG, PNG, GIF or BMP image.") from None
        if via_rgb and prep.channels == 1:
            image = tf.cast(tf.round(tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))),
                            tf.uint8)
        images.append(eval_transform(image, prep))
    return tf.stack(images)


def predict_files(model, prep, paths, *, top_k=5, batch_size=16):
    """The top-k classes of each image file.

    Args:
        model: a single-output classifier (`load_predictor`).
        prep: its `Preprocessing`.
        paths: list of image file paths.
        top_k: int. Classes per image (at most the number of classes). Defaults to 5.
        batch_size: int. Images per forward pass. Defaults to 16.

    Returns:
        One list per file of `(index, class name or None, probability)`, best first.
        Probabilities are the softmax of the model's logits (or its own softmax).
    """
    import numpy as np

    from kcnn.models.heads import outputs_logits

    softmax = outputs_logits(model)
    results = []
    for start in range(0, len(paths), batch_size):
        x = read_images(paths[start:start + batch_size], prep)
        y = np.asarray(model(x, training=False), dtype=np.float64)
        if softmax:
            y = np.exp(y - y.max(axis=-1, keepdims=True))
            y /= y.sum(axis=-1, keepdims=True)
        for row in y:
            order = np.argsort(-row, kind="stable")[:top_k]
            results.append([(int(i), prep.class_names[i] if prep.class_names else None,
                             float(row[i])) for i in order])
    return results
