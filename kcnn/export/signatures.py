"""The serving signatures: image bytes or float images in, probabilities and top-k out.

`serving_default`
    input  `image_bytes`: string [batch]. Encoded JPEG, PNG, GIF (first frame) or BMP
           images (base64 `{"b64": ...}` in TF Serving's REST API), any size up to the
           export's `max_pixels` (checked in the header, before decoding).
`predict_images`
    input  `images`: float32 [batch, height, width, channels]. Decoded pixel values in
           [0, 255] (finite), any height and width.

Both decode/resize (and center-crop)/normalize inside the graph exactly as the
preprocessing contract (`kcnn.preprocessing.Preprocessing`) says, with the contract's
channel order, and return `probabilities` float32 [batch,
classes], `top_k_scores` float32 [batch, k], `top_k_indices` int32 [batch, k] and, when
class names are known, `top_k_class_names` string [batch, k].
"""

import tensorflow as tf

from kcnn.data.decode import MAX_PIXELS, decode_image, not_an_image_message
from kcnn.data.preprocessing import normalize_pixels, resize
from kcnn.models.heads import outputs_logits

BYTES_SIGNATURE = "serving_default"
BYTES_INPUT = "image_bytes"
FLOAT_SIGNATURE = "predict_images"
FLOAT_INPUT = "images"
OUTPUTS = ("probabilities", "top_k_scores", "top_k_indices")
CLASS_NAMES_OUTPUT = "top_k_class_names"
DECODE_ERROR = not_an_image_message(BYTES_INPUT)


def output_names(class_names):
    """The output keys of both signatures."""
    return OUTPUTS + ((CLASS_NAMES_OUTPUT,) if class_names else ())


def add_signatures(archive, model, preprocessing, *, top_k=5, model_outputs="auto",
                   max_pixels=MAX_PIXELS):
    """Adds both serving endpoints for `model` to a `keras.export.ExportArchive`.

    Args:
        archive: a `keras.export.ExportArchive` (TensorFlow backend).
        model: a single-output `keras.Model` (see `kcnn.models.heads.inference_model`).
        preprocessing: a `kcnn.preprocessing.Preprocessing` checked against `model`.
        top_k: int. Number of top classes returned, capped at the number of classes.
        model_outputs: "auto", "logits" or "probabilities"; the signatures apply softmax
            when `kcnn.models.heads.outputs_logits(model, model_outputs)`.
        max_pixels: int. `serving_default` refuses an image whose header declares more
            pixels (width × height) before decoding it (`kcnn.data.decode.decode_image`).

    Returns:
        bool: whether the signatures apply softmax to the model's output.
    """
    num_classes = model.output_shape[-1]
    k = min(top_k, num_classes)
    apply_softmax = outputs_logits(model, model_outputs)
    height, width = preprocessing.image_size
    channels = preprocessing.channels
    names = preprocessing.class_names
    if names is not None:
        names = list(names)

    def predict(pixels):  # pixels: float32 [batch, height, width, channels] in [0, 255]
        x = normalize_pixels(pixels, preprocessing)
        y = tf.cast(model(x, training=False), tf.float32)
        probabilities = tf.nn.softmax(y, axis=-1) if apply_softmax else y
        scores, indices = tf.math.top_k(probabilities, k=k)
        out = {"probabilities": probabilities, "top_k_scores": scores,
               "top_k_indices": indices}
        if names is not None:
            out[CLASS_NAMES_OUTPUT] = tf.gather(tf.constant(names), indices)
        return out

    def decode(image_bytes):
        image = decode_image(image_bytes, channels, max_pixels=max_pixels, name=BYTES_INPUT)
        return resize(tf.cast(image, tf.float32), preprocessing)

    def from_bytes(image_bytes):
        # The graph knows the input is 1-D, so a rank check would be folded away; the size
        # of a [batch] tensor is its first dimension, of any other shape (almost) never.
        one_d = tf.debugging.Assert(
            tf.equal(tf.size(image_bytes), tf.shape(image_bytes)[0]),
            [f"{BYTES_SIGNATURE}: `{BYTES_INPUT}` must be a 1-D string tensor [batch] of "
             "encoded images; got shape", tf.shape(image_bytes)], summarize=8,
            name="check_image_bytes_shape")
        with tf.control_dependencies([one_d]):
            image_bytes = tf.ensure_shape(image_bytes, [None])
        pixels = tf.map_fn(decode, image_bytes, fn_output_signature=tf.TensorSpec(
            [height, width, channels], tf.float32))
        return predict(pixels)

    def from_images(images):
        shape = tf.shape(images)
        right_channels = tf.debugging.Assert(
            tf.equal(shape[-1], channels),
            [f"{FLOAT_SIGNATURE}: `{FLOAT_INPUT}` must have {channels} channel(s), shape "
             f"[batch, height, width, {channels}]; got shape", shape], summarize=8,
            name="check_images_channels")
        with tf.control_dependencies([right_channels]):
            images = tf.ensure_shape(images, [None, None, None, channels])
            images = tf.debugging.assert_all_finite(
                images, f"{FLOAT_SIGNATURE}: `{FLOAT_INPUT}` must be finite pixel values in "
                        "[0, 255]; got NaN or inf")
        return predict(resize(images, preprocessing))

    archive.track(model)
    archive.add_endpoint(BYTES_SIGNATURE, from_bytes,
                         [tf.TensorSpec([None], tf.string, name=BYTES_INPUT)])
    archive.add_endpoint(FLOAT_SIGNATURE, from_images, [
        tf.TensorSpec([None, None, None, channels], tf.float32, name=FLOAT_INPUT)])
    return apply_softmax
