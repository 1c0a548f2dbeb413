"""Where the model's input pixels and a layer's units lie on the original image.

The model sees the image after the preprocessing contract's resize (and, with
`crop_fraction`, center crop) to `image_size`. `Placement` maps between the model input's
pixels and the original image's, as `kcnn.data.preprocessing.resize` does (bilinear with
half-pixel centres: resized pixel edge e is original edge e · original / resized).

A layer's units are placed where `kcnn.analysis` says they look: unit i of a map whose
first unit's field is centred on input pixel `start`, with neighbours `jump` pixels apart,
is centred on `start + i · jump` (`unit_field`). The receptive fields are the analysis'
numbers; nothing here recomputes them.
"""

from typing import NamedTuple

import numpy as np

from kcnn.analysis import summarize


class Placement(NamedTuple):
    """The model input inside the original image, per axis (height, width).

    Attributes:
        original: the original image's (height, width).
        resized: the size it is resized to before any crop.
        offset: the crop's (top, left) in resized pixels ((0, 0) without a crop).
        size: the model input's (height, width).
    """

    original: tuple
    resized: tuple
    offset: tuple
    size: tuple

    def to_original(self, edge, axis):
        """Model-input edge coordinate(s) (pixel i spans [i, i + 1]) → original's."""
        return ((np.asarray(edge, dtype=np.float64) + self.offset[axis])
                * self.original[axis] / self.resized[axis])

    def to_input(self, edge, axis):
        """Original edge coordinate(s) → the model input's (inverse of `to_original`)."""
        return (np.asarray(edge, dtype=np.float64) * self.resized[axis] / self.original[axis]
                - self.offset[axis])


def placement(prep, original_size):
    """The `Placement` of `prep`'s model input in an image of `original_size` (h, w)."""
    height, width = (int(v) for v in original_size)
    if prep.crop_fraction is None:
        return Placement((height, width), tuple(prep.image_size), (0, 0),
                         tuple(prep.image_size))
    size = prep.resize_size
    short, long = min(height, width), max(height, width)
    new_long = int(np.floor(size * long / short))  # as kcnn.data.preprocessing.resize
    resized = (size, new_long) if height <= width else (new_long, size)
    # round() is half to even, as tf.round in the pipeline's crop offsets.
    offset = tuple(round((r - c) / 2) for r, c in zip(resized, prep.image_size))
    return Placement((height, width), resized, offset, tuple(prep.image_size))


class UnitField(NamedTuple):
    """The receptive field of one unit of a layer, from `kcnn.analysis.summarize`.

    Attributes:
        layer: str.
        unit: (row, column) of the unit in the layer's map.
        size: (height, width) of the field in model-input pixels.
        jump: (rows, columns) between neighbouring units, in model-input pixels.
        start: (row, column) of the centre of unit (0, 0)'s field.
        box: (top, left, bottom, right): the first and last input pixel rows and columns
            the unit sees (inclusive; negative or past the input inside the padding).
    """

    layer: str
    unit: tuple
    size: tuple
    jump: tuple
    start: tuple
    box: tuple


def layer_fields(model, input_shape=None):
    """{layer name: (size, jump, start)} of every layer's output, by `kcnn.analysis`.

    Args:
        model: the `keras.Model`.
        input_shape: (H, W, C) or None: the size to analyse a model built for any size
            at (`kcnn.analysis.summarize`'s `input_shape`). Defaults to its own.

    A value is None where the analysis does not know it (after a global pooling, or a
    start that depends on an unknown input size).
    """
    fields = {}
    for row in summarize(model, input_shape):
        known = all(v is not None and None not in v
                    for v in (row["receptive_field"], row["jump"], row["start"]))
        fields[row["name"]] = ((row["receptive_field"], row["jump"], row["start"])
                               if known else None)
    return fields


def unit_field(model, layer, unit, fields=None, map_size=None):
    """The receptive field of `unit` (row, column) of `layer`'s map.

    Args:
        model: the `keras.Model`.
        layer: str. A layer with a 4-D output.
        unit: (row, column), inside the layer's map.
        fields: `layer_fields(model)`, if already computed.
        map_size: (height, width) of the layer's map, for a model built for any size.
            Defaults to the layer's output shape.

    Raises:
        ValueError: a unit outside the map, or a layer whose field the analysis does
            not know.
    """
    height, width = map_size or model.get_layer(layer).output.shape[1:3]
    row, column = unit
    if not (0 <= row < height and 0 <= column < width):
        raise ValueError(f"unit {tuple(unit)} is outside layer {layer!r}'s {height}×{width} "
                         f"map (rows 0..{height - 1}, columns 0..{width - 1}).")
    fields = layer_fields(model) if fields is None else fields
    field = fields.get(layer)
    if field is None:
        raise ValueError(f"kcnn.analysis does not know the receptive field of layer "
                         f"{layer!r} (see `kcnn summary`).")
    size, jump, start = field
    centre = (start[0] + row * jump[0], start[1] + column * jump[1])
    box = tuple(c + s * (v - 1) / 2 for s in (-1, 1) for c, v in zip(centre, size))
    return UnitField(layer, (row, column), tuple(size), tuple(jump), tuple(start),
                     tuple(_plain(v) for v in box))


def _plain(v):
    return int(v) if float(v).is_integer() else float(v)


def unit_centres(n, axis, field, input_size):
    """Model-input pixel coordinates of a layer's n units on one axis.

    From the analysis' start and jump where known; else spread evenly over the input.
    """
    if field is not None:
        _, jump, start = field
        return start[axis] + jump[axis] * np.arange(n, dtype=np.float64)
    return (np.arange(n, dtype=np.float64) + 0.5) * input_size[axis] / n - 0.5


def on_original(values, field, place, zoom=1):
    """A layer's map (h, w) resampled onto the original image's pixels (× `zoom`).

    Each unit's value sits at its field's centre (`unit_centres`), linearly interpolated
    between units (held at the edge units' values beyond them); original pixels outside
    the model's input (cut off by a center crop) are NaN.

    Returns:
        float64 (original height · zoom, original width · zoom).
    """
    values = np.asarray(values, dtype=np.float64)
    out = values
    for axis in (0, 1):
        n_out = place.original[axis] * zoom
        edges = (np.arange(n_out, dtype=np.float64) + 0.5) / zoom  # original pixel centres
        coords = place.to_input(edges, axis) - 0.5  # as input pixel indices
        centres = unit_centres(values.shape[axis], axis, field, place.size)
        out = np.apply_along_axis(lambda v: np.interp(coords, centres, v), axis, out)
        outside = (coords < -0.5) | (coords > place.size[axis] - 0.5)
        index = [slice(None), slice(None)]
        index[axis] = outside
        out[tuple(index)] = np.nan
    return out
