"""The pictures of `kcnn explain`: PNGs of Grad-CAM, feature maps, filters, a receptive field.

The overlays (Grad-CAM, receptive field) are drawn pixel by pixel on the image at its
original size (times an integer `zoom`, for tiny images such as 8 × 8 digits) and
written with `matplotlib.image.imsave`, so the PNG has exactly that size; the grids
(feature maps, filters) are matplotlib figures (Agg, no display). Every file is written
atomically (`kcnn.io`).
"""

import io
import os
import re
from typing import NamedTuple

import numpy as np

from kcnn.explain.geometry import layer_fields, on_original, placement, unit_field
from kcnn.explain.gradcam import find_layer, grad_cam
from kcnn.io import atomic_write_bytes
from kcnn.models.heads import inference_model, outputs_logits

FILES = {"gradcam": "gradcam.png", "features": "feature_maps.png",
         "filters": "filters.png", "receptive_field": "receptive_field.png"}
MAX_MAPS = 64  # feature maps in the grid (the most active ones)
MAX_FILTERS = 96  # AlexNet's first layer


def load_image(path, prep):
    """An image file as shown (RGB uint8, original size) and as the model takes it.

    Decoded with the project's decoder (`kcnn.data.decode.decode_image`, as training and
    serving decode) and preprocessed by the contract (`kcnn.data.preprocessing`).

    Returns:
        `(original, x)`: uint8 (H, W, 3) and float32 (1, *prep.image_size, channels).

    Raises:
        FileNotFoundError: no such file; ValueError: not a decodable image (naming it).
    """
    import tensorflow as tf

    from kcnn.data.decode import decode_image
    from kcnn.data.preprocessing import eval_transform

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Image file {path!r} does not exist.")
    with open(path, "rb") as file:
        contents = tf.constant(file.read())
    try:
        shown = decode_image(contents, 3)
        image = shown if prep.channels == 3 else decode_image(contents, 1)
    except tf.errors.InvalidArgumentError as e:
        # decode_image's own reason ("not a JPEG, PNG, GIF or BMP image", "its header
        # declares ... pixels"), else the decoder's first line.
        found = re.search(r"Failed to decode image: ([^'\]]*)", e.message)
        reason = (found.group(1).replace("an element is not", "not") if found
                  else e.message.strip().splitlines()[0])
        raise ValueError(f"Image file {path!r} cannot be decoded: {reason}.") from None
    x = eval_transform(image, prep)[None]
    return np.asarray(shown), np.asarray(x, dtype=np.float32)


def _write_png(path, array=None, figure=None):
    buffer = io.BytesIO()
    if figure is not None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(figure)
        figure.savefig(buffer, format="png")
    else:
        from matplotlib.image import imsave

        imsave(buffer, array, format="png")
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _zoomed(original, zoom):
    image = original.astype(np.float64) / 255.0
    return np.repeat(np.repeat(image, zoom, axis=0), zoom, axis=1)


def overlay_heatmap(original, heat, alpha=0.5, cmap="jet"):
    """RGB float (H, W, 3): `heat` (in [0, 1], NaN: none) blended over `original`."""
    from matplotlib import colormaps

    colour = colormaps[cmap](np.nan_to_num(heat))[..., :3]
    weight = np.where(np.isnan(heat), 0.0, alpha)[..., None]
    return original * (1 - weight) + colour * weight


def draw_box(image, box, colour=(1.0, 0.9, 0.0), width=None):
    """Draws the outline of `box` (top, left, bottom, right edges in pixels, may lie
    outside) on the RGB float image, clipped to it; returns the image."""
    height, width_px = image.shape[:2]
    line = width or max(1, round(min(height, width_px) / 100))
    top, left, bottom, right = (int(round(v)) for v in box)
    t, b = max(top, 0), min(bottom, height)
    le, r = max(left, 0), min(right, width_px)
    if t >= b or le >= r:
        return image
    for edge, inside in ((top, 0 <= top < height), (bottom - line, 0 < bottom <= height)):
        if inside:
            image[max(edge, 0):edge + line, le:r] = colour
    for edge, inside in ((left, 0 <= left < width_px), (right - line, 0 < right <= width_px)):
        if inside:
            image[t:b, max(edge, 0):edge + line] = colour
    return image


def _grid(count):
    columns = int(np.ceil(np.sqrt(count)))
    return int(np.ceil(count / columns)), columns


def _figure(rows, columns, title, cell=1.0):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(max(columns * cell, 3.0), rows * cell + 0.5), dpi=80)
    axes = figure.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    figure.suptitle(title, fontsize=9)
    return figure, axes


def feature_map_figure(activations, layer):
    """The grid of a layer's feature maps (h, w, K): the `MAX_MAPS` most active
    channels, each on its own colour scale, labelled with its channel index."""
    channels = activations.shape[-1]
    order = np.argsort(-activations.mean(axis=(0, 1)), kind="stable")[:MAX_MAPS]
    rows, columns = _grid(len(order))
    shown = (f"the {len(order)} most active of {channels} channels" if len(order) < channels
             else f"{channels} channels")
    figure, axes = _figure(rows, columns, f"{layer}: {activations.shape[0]}×"
                                          f"{activations.shape[1]} maps, {shown}")
    for ax, k in zip(axes.flat, order):
        ax.imshow(activations[..., k], cmap="viridis", interpolation="nearest")
        ax.set_title(str(k), fontsize=6, pad=1)
    return figure


def first_kernel(model):
    """(name, kernel (kh, kw, in, out)) of the model's first convolution."""
    for weight in model.weights:
        if len(weight.shape) == 4 and "kernel" in weight.path:
            return weight.path, np.asarray(weight.numpy(), dtype=np.float64)
    raise ValueError(f"Model {model.name!r} has no convolution kernel to show.")


def filter_figure(kernel, name, bgr=False):
    """The grid of the first layer's filters, each scaled to its own range: RGB for 3
    input channels (shown in RGB order when the model takes BGR), grey otherwise (the
    mean over the input channels if they are not 1 or 3)."""
    count = min(kernel.shape[-1], MAX_FILTERS)
    rows, columns = _grid(count)
    figure, axes = _figure(rows, columns, f"{name}: {count} of {kernel.shape[-1]} filters, "
                                          f"{kernel.shape[0]}×{kernel.shape[1]}×"
                                          f"{kernel.shape[2]}", cell=0.8)
    for ax, k in zip(axes.flat, range(count)):
        f = kernel[..., k]
        if f.shape[-1] == 3:
            f = f[..., ::-1] if bgr else f
        else:
            f = f.mean(axis=-1)
        span = f.max() - f.min()
        f = (f - f.min()) / span if span > 0 else np.zeros_like(f)
        ax.imshow(f, cmap=None if f.ndim == 3 else "gray", interpolation="nearest")
    return figure


class Explanation(NamedTuple):
    """What `explain_image` made: the files, the Grad-CAM, the unit's receptive field.

    Attributes:
        files: {kind: path} (kinds: the keys of `FILES`).
        cam: the `GradCam`.
        probabilities: float64 (num_classes,): softmax of the logits (or the model's own).
        field: the `UnitField` drawn.
        box: its (top, left, bottom, right) edges on the original image, in pixels.
        size: (height, width) of the overlay PNGs.
    """

    files: dict
    cam: object
    probabilities: np.ndarray
    field: object
    box: tuple
    size: tuple


def _probabilities(model, outputs):
    if not outputs_logits(model):
        return outputs
    e = np.exp(outputs - outputs.max())
    return e / e.sum()


def explain_image(model, prep, image, out_dir, *, layer=None, class_index=None,
                  unit=None, features_layer=None, zoom=1):
    """Writes the four PNGs of `FILES` for one image into `out_dir`.

    Args:
        model: a kcnn classifier (auxiliary heads ignored).
        prep: its `kcnn.preprocessing.Preprocessing`.
        image: str. An image file (JPEG, PNG, GIF or BMP).
        out_dir: str. Created if missing; the PNGs in it are replaced.
        layer: str or None. The Grad-CAM layer (default: `default_layer`).
        class_index: int or None. The class (default: the top one).
        unit: (row, column) or None. The unit of `layer` whose receptive field is drawn
            (default: the Grad-CAM map's peak).
        features_layer: str or None. The layer of the feature-map grid (default: `layer`).
        zoom: int >= 1. The overlays are the original size times `zoom`.

    Returns:
        An `Explanation`.
    """
    if isinstance(zoom, bool) or not isinstance(zoom, int) or zoom < 1:
        raise ValueError(f"`zoom` must be an int >= 1; got {zoom!r}.")
    model = inference_model(model)
    prep.check_model(model)
    layer = find_layer(model, layer).name
    features_layer = find_layer(model, features_layer).name if features_layer else layer
    original, x = load_image(image, prep)
    cam = grad_cam(model, x, layer=layer, class_index=class_index)
    fields = layer_fields(model, (*prep.image_size, prep.channels))
    place = placement(prep, original.shape[:2])
    shown = _zoomed(original, zoom)
    peak = cam.map.max()
    heat = on_original(cam.map / peak if peak > 0 else cam.map, fields.get(layer), place, zoom)
    os.makedirs(out_dir, exist_ok=True)
    path = {kind: os.path.join(out_dir, name) for kind, name in FILES.items()}
    _write_png(path["gradcam"], np.clip(overlay_heatmap(shown, heat), 0, 1))

    if unit is None:
        unit = tuple(int(v) for v in np.unravel_index(np.argmax(cam.map), cam.map.shape))
    field = unit_field(model, layer, unit, fields, map_size=cam.map.shape)
    top, left, bottom, right = field.box  # input pixel rows / columns, inclusive
    box = (float(place.to_original(top, 0)), float(place.to_original(left, 1)),
           float(place.to_original(bottom + 1, 0)), float(place.to_original(right + 1, 1)))
    picture = draw_box(shown.copy(), tuple(v * zoom for v in box))
    centre = [int(np.clip(np.floor((box[a] + box[a + 2]) / 2 * zoom), 0, shown.shape[a] - 1))
              for a in (0, 1)]
    dot = max(1, round(min(shown.shape[:2]) / 100))
    picture[max(centre[0] - dot, 0):centre[0] + dot + 1,
            max(centre[1] - dot, 0):centre[1] + dot + 1] = (1.0, 0.0, 0.0)
    _write_png(path["receptive_field"], picture)

    activations = cam.activations
    if features_layer != layer:
        import keras

        probe = keras.Model(model.inputs[0], model.get_layer(features_layer).output)
        activations = np.asarray(probe(x, training=False)[0], dtype=np.float64)
    _write_png(path["features"], figure=feature_map_figure(activations, features_layer))
    name, kernel = first_kernel(model)
    _write_png(path["filters"], figure=filter_figure(kernel, name,
                                                     bgr=prep.channel_order == "BGR"))
    return Explanation(path, cam, _probabilities(model, cam.outputs), field, box,
                       shown.shape[:2])
