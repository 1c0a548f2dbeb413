"""The serving signatures: image bytes or float images in, probabilities and top-k out.

`serving_default`
    input  `image_bytes`: string [batch]. Encoded JPEG, PNG, GIF (first frame) or BMP
           images (base64 `{"b64": ...}` in TF Serving's REST API), any size.
`predict_images`
    input  `images`: float32 [batch, height, width, channels]. Decoded pixel values in
           [0, 255], any height and width.

Both decode/resize (and center-crop)/normalize inside the graph exactly as the
preprocessing contract (`kcnn.preprocessing.Preprocessing`) says, with the contract's
channel order, and return `probabilities` float32 [batch,
classes], `top_k_scores` float32 [batch, k], `top_k_indices` int32 [batch, k] and, when
class names are known, `top_k_class_names` string [batch, k].
"""

import tensorflow as tf

from kcnn.data.preprocessing import normalize_pixels, resize
from kcnn.models.heads import outputs_logits

BYTES_SIGNATURE = "serving_default"
BYTES_INPUT = "image_bytes"
FLOAT_SIGNATURE = "predict_images"
FLOAT_INPUT = "images"
OUTPUTS = ("probabilities", "top_k_scores", "top_k_indices")
CLASS_NAMES_OUTPUT = "top_k_class_names"
DECODE_ERROR = ("Failed to decode image_bytes: an element is not a JPEG, PNG, GIF or "
                "BMP image")


def output_names(class_names):
    """The output keys of both signatures."""
    return OUTPUTS + ((CLASS_NAMES_OUTPUT,) if class_names else ())


def add_signatures(archive, model, preprocessing, *, top_k=5, model_outputs="auto"):
    """Adds both serving endpoints for `model` to a `keras.export.ExportArchive`.

    Args:
        archive: a `keras.export.ExportArchive` (TensorFlow backend).
        model: a single-output `keras.Model` (see `kcnn.models.heads.inference_model`).
        preprocessing: a `kcnn.preprocessing.Preprocessing` checked against `model`.
        top_k: int. Number of top classes returned, capped at the number of classes.
        model_outputs: "auto", "logits" or "probabilities"; the signatures apply softmax
            when `kcnn.models.heads.outputs_logits(model, model_outputs)`.

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
        # decode_image's own error for a non-image names no input; check the magic
        # bytes first so that the InvalidArgument error says what failed.
        def starts_with(magic):
            return tf.equal(tf.strings.substr(image_bytes, 0, len(magic)), magic)
        is_image = tf.reduce_any(tf.stack([
            starts_with(b"\xff\xd8\xff"), starts_with(b"\x89PNG"),
            starts_with(b"GIF8"), starts_with(b"BM")]))
        check = tf.debugging.Assert(is_image, [DECODE_ERROR], name="check_image_bytes")

        def decode_as(c):
            with tf.control_dependencies([check]):
                return tf.io.decode_image(image_bytes, channels=c, expand_animations=False,
                                          dtype=tf.uint8)

        if channels == 1:
            # TensorFlow's GIF and BMP decoders cannot give one channel: decode RGB and
            # convert with rgb_to_grayscale's weights, rounded to uint8.
            image = tf.cond(
                starts_with(b"GIF8") | starts_with(b"BM"),
                lambda: tf.cast(tf.round(tf.image.rgb_to_grayscale(
                    tf.cast(decode_as(3), tf.float32))), tf.uint8),
                lambda: decode_as(1))
        else:
            image = decode_as(channels)
        image.set_shape([None, None, channels])
        return resize(tf.cast(image, tf.float32), preprocessing)

    def from_bytes(image_bytes):
        pixels = tf.map_fn(decode, image_bytes, fn_output_signature=tf.TensorSpec(
            [height, width, channels], tf.float32))
        return predict(pixels)

    def from_images(images):
        return predict(resize(images, preprocessing))

    archive.track(model)
    archive.add_endpoint(BYTES_SIGNATURE, from_bytes,
                         [tf.TensorSpec([None], tf.string, name=BYTES_INPUT)])
    archive.add_endpoint(FLOAT_SIGNATURE, from_images, [
        tf.TensorSpec([None, None, None, channels], tf.float32, name=FLOAT_INPUT)])
    return apply_softmax
