"""The preprocessing that travels with the weights: the catalogue's records as kcnn's
contract, applied as torchvision's evaluation transform does (checked against PIL's
resize, the resize torchvision's PIL path uses), and served by an exported model with
ImageNet's class names."""

import io

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kcnn.export import export_saved_model
from kcnn.preprocessing import Preprocessing
from kcnn.weights import (imagenet_classes, preprocess, source_preprocessing,
                          weights_preprocessing)


def _image(height, width, seed=0):
    """Smooth stripes plus noise: a resize that shrinks sees real detail."""
    rng = np.random.default_rng(seed)
    x = np.arange(width)[None, :, None] / 17.0 + np.arange(height)[:, None, None] / 29.0
    pixels = 120 + 80 * np.sin(x * [1.0, 1.3, 0.7]) + rng.normal(0, 20, (height, width, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def _reference(image, resize, crop):
    """torchvision's eval transform on a float image: Resize(resize) (shorter side, the
    longer int(...)), bilinear with antialias (PIL's "F" resize), CenterCrop(crop)."""
    h, w = image.shape[:2]
    size = (resize, int(resize * w / h)) if h <= w else (int(resize * h / w), resize)
    channels = [np.asarray(Image.fromarray(image[..., c].astype(np.float32), "F").resize(
        size[::-1], Image.BILINEAR)) for c in range(3)]
    resized = np.stack(channels, axis=-1)
    top, left = round((size[0] - crop) / 2), round((size[1] - crop) / 2)
    return resized[top:top + crop, left:left + crop]


def test_records_become_the_contract():
    prep = weights_preprocessing("resnet50", "torchvision")   # IMAGENET1K_V2
    assert (prep.image_size, prep.resize_size, prep.channel_order, prep.antialias) == (
        (224, 224), 232, "RGB", True)
    assert prep.class_names == imagenet_classes() and prep.class_names[0] == "tench"
    assert weights_preprocessing("resnet50", "torchvision", tag="IMAGENET1K_V1").resize_size \
        == 256
    keras_prep = source_preprocessing("keras")
    assert (keras_prep.channel_order, keras_prep.scale, keras_prep.mean) == (
        "BGR", 1.0, (103.939, 116.779, 123.68))
    assert weights_preprocessing("vgg16", "keras", include_top=False).class_names is None


@pytest.mark.parametrize("shape", [(300, 400), (410, 260)])  # landscape and portrait
def test_preprocess_is_torchvisions_eval_transform(shape):
    image = _image(*shape)
    resized = _reference(image, 256, 224)
    prep = source_preprocessing("torchvision")
    want = (resized / 255.0 - np.array(prep.mean)) / np.array(prep.std)
    got = preprocess(image, "torchvision")
    assert got.shape == (224, 224, 3) and got.dtype == np.float32
    assert np.abs(got - want).max() < 1e-4, np.abs(got - want).max()
    # keras.applications' caffe VGG: BGR, the mean subtracted, no scaling.
    want = resized[..., ::-1] - np.array([103.939, 116.779, 123.68])
    got = preprocess([image, image], "keras")
    assert got.shape == (2, 224, 224, 3) and np.abs(got - want).max() < 0.01


def test_preprocess_refuses_what_is_not_uint8_rgb():
    with pytest.raises(ValueError, match=r"images must be uint8 \(height, width, 3\) pixels; "
                                         r"got float64 of shape \(8, 8, 3\)"):
        preprocess(np.zeros((8, 8, 3)), "torchvision")
    with pytest.raises(ValueError, match=r"one image \(height, width, 3\), a batch .* got an "
                                         r"array of shape \(3, 3\)"):
        preprocess(np.zeros((3, 3), np.uint8), "torchvision")


def test_exported_pretrained_style_model_serves_imagenet_class_names(tmp_path):
    # A tiny 1000-class model at 32×32 with the keras.applications VGG contract scaled
    # down: crop, BGR, caffe mean. (`kcnn export --verify` of a converted resnet18 checks
    # both signatures in a fresh process: tests/weights/test_cli_pretrained.py.)
    prep = Preprocessing(image_size=(32, 32), channels=3, scale=1.0,
                         mean=(103.939, 116.779, 123.68), class_names=imagenet_classes(),
                         crop_fraction=0.875, channel_order="BGR", antialias=True)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1000)(x))
    result = export_saved_model(model, tmp_path / "m", preprocessing=prep, warmup=False)
    served = tf.saved_model.load(result.path).signatures["serving_default"]
    image = _image(45, 60, seed=3)
    png = io.BytesIO()
    Image.fromarray(image).save(png, format="PNG")
    out = served(image_bytes=tf.constant([png.getvalue()]))
    logits = np.asarray(model(preprocess([image], prep)))
    top = np.argsort(-logits[0])[:5]
    assert out["top_k_indices"].numpy()[0].tolist() == top.tolist()
    assert [n.decode() for n in out["top_k_class_names"].numpy()[0]] == [
        imagenet_classes()[i] for i in top]
