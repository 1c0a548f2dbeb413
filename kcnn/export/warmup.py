"""TF Serving warm-up requests: `assets.extra/tf_serving_warmup_requests`.

TF Serving replays these PredictionLog records (a TFRecord file) when it loads a
version, so that the first real request does not pay for graph initialization. See
https://www.tensorflow.org/tfx/serving/saved_model_warmup.
"""

import os

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from kcnn.export.signatures import (BYTES_INPUT, BYTES_SIGNATURE, FLOAT_INPUT,
                                    FLOAT_SIGNATURE)

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def sample_images(count, height, width, channels, seed=0):
    """Deterministic synthetic images: smooth gradients plus noise, uint8.

    Returns:
        A uint8 array of shape (count, height, width, channels).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.linspace(0, 1, height), np.linspace(0, 1, width),
                         indexing="ij")
    images = []
    for _ in range(count):
        a, b, c = rng.uniform(-1, 1, size=(3, channels))
        base = 127.5 + 100 * np.tanh(a * yy[..., None] + b * xx[..., None] + c)
        images.append(base + rng.normal(0, 20, size=(height, width, channels)))
    return np.clip(np.rint(np.stack(images)), 0, 255).astype(np.uint8)


def encode(image, fmt="png"):
    """Encodes one uint8 (height, width, channels) image as PNG or JPEG bytes."""
    if fmt == "png":
        return tf.io.encode_png(image).numpy()
    return tf.io.encode_jpeg(image, quality=95).numpy()


def warmup_requests(model_name, image_size, channels):
    """A few representative PredictRequests for both signatures.

    Args:
        model_name: str. The model name the server is started with.
        image_size: (height, width) the model takes.
        channels: int. Image channels.

    Returns:
        A list of `PredictRequest`: one PNG; a batch of three encoded images (a JPEG,
        a PNG at twice and one at half the size, so that the resize path is warmed);
        two float images for `predict_images`.
    """
    height, width = image_size
    images = sample_images(4, height, width, channels, seed=1)
    large = sample_images(1, 2 * height, 2 * width, channels, seed=2)[0]
    small = sample_images(1, max(1, height // 2), max(1, width // 2), channels, seed=3)[0]
    byte_batches = [[encode(images[0])],
                    [encode(images[1], "jpeg"), encode(large), encode(small)]]
    requests = []
    for batch in byte_batches:
        request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(
            name=model_name, signature_name=BYTES_SIGNATURE))
        request.inputs[BYTES_INPUT].CopyFrom(tf.make_tensor_proto(batch, dtype=tf.string))
        requests.append(request)
    request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(
        name=model_name, signature_name=FLOAT_SIGNATURE))
    request.inputs[FLOAT_INPUT].CopyFrom(
        tf.make_tensor_proto(images[2:].astype(np.float32)))
    requests.append(request)
    return requests


def write_warmup(saved_model_dir, model_name, image_size, channels):
    """Writes the warm-up records into `saved_model_dir/assets.extra/`.

    Returns:
        The number of records written.
    """
    path = os.path.join(saved_model_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    requests = warmup_requests(model_name, image_size, channels)
    with tf.io.TFRecordWriter(path) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return len(requests)
