"""`summarize`: one row per layer with shapes, parameters, MACs and receptive fields."""

import inspect
import math

import keras

from kcnn.analysis._fields import Field, plain
from kcnn.analysis._graph import walk

COLUMNS = ("name", "type", "output_shape", "params", "non_trainable", "macs",
           "receptive_field", "jump", "start")


def _count(weights):
    return sum(math.prod(w.shape) for w in weights)


class Summary(list):
    """The rows of `summarize` (a list of dicts), with `totals`; `str()` is the table.

    Attributes:
        totals: dict with `params` (trainable), `non_trainable`, `input_shape` (the
            shape analysed, without the batch axis; `None` for an unknown height or
            width), `macs` (counted MACs for one image; `None` when the input size is
            unknown), `uncounted` (names of the layers or ops whose MACs are not counted
            or, at an unknown size, not known; when not empty, `macs` is a lower bound),
            `receptive_field`, `jump` and `start` of the model's (first) output.
    """

    def __init__(self, rows, totals, name):
        super().__init__(rows)
        self.totals = totals
        self.name = name

    def __str__(self):
        return format_table(self)


def _shape(shape):
    return "×".join("?" if d is None else str(d) for d in shape[1:]) or "scalar"


def _number(v):
    return "?" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def _pair(value):
    if value is None:
        return "—"
    if value[0] == value[1]:
        return _number(value[0])
    return "×".join(_number(v) for v in value)


def _scaled(n):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(n)


def format_table(summary):
    """The summary as an aligned text table, with a totals line."""
    header = ("layer", "type", "output", "params", "non-train", "MACs", "RF", "jump", "start")
    lines = []
    for row in summary:
        shapes = row["output_shape"]
        shapes = [shapes] if isinstance(shapes, tuple) else shapes
        lines.append((
            row["name"], row["type"], ", ".join(_shape(s) for s in shapes),
            f"{row['params']:,}", f"{row['non_trainable']:,}",
            "?" if row["macs"] is None else f"{row['macs']:,}",
            _pair(row["receptive_field"]), _pair(row["jump"]), _pair(row["start"]),
        ))
    widths = [max(len(h), *(len(r[i]) for r in lines)) if lines else len(h)
              for i, h in enumerate(header)]
    right = {3, 4, 5, 6, 7, 8}

    def fmt(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "-" * len(fmt(header))
    t = summary.totals
    sized = None not in t.get("input_shape", ())
    out = [f'Model "{summary.name}"', rule, fmt(header), rule, *map(fmt, lines), rule,
           f"Trainable params: {t['params']:,}    Non-trainable params: "
           f"{t['non_trainable']:,}"]
    if not sized:
        out.append(f"Input {_shape((None, *t['input_shape']))}: output shapes and MACs "
                   "depend on the input size (shown as '?'); give an input shape to count "
                   "them")
    else:
        out.append(f"MACs (multiply-accumulates, one image): {t['macs']:,} "
                   f"({_scaled(t['macs'])})")
        if t["uncounted"]:
            out.append("Not counted (MACs shown as '?'; the total is a lower bound): "
                       + ", ".join(t["uncounted"]))
    if t["receptive_field"] is None:
        out.append("Output receptive field: not defined (see the '—' rows)" if sized else
                   "Output receptive field: depends on the input size or not defined")
    else:
        out.append(f"Output receptive field: {_pair(t['receptive_field'])} pixels, "
                   f"jump {_pair(t['jump'])}, start {_pair(t['start'])}")
    return "\n".join(out)


def _check_input_shape(model, input_shape):
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model; got {type(model).__name__}.")
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if inputs is not None and len(inputs) != 1:
        raise ValueError(
            f"summarize supports models with one input; model {model.name!r} has "
            f"{len(inputs)}."
        )
    declared = tuple(inputs[0].shape[1:]) if inputs else None
    if input_shape is None:
        if declared is None:
            raise ValueError(
                f"Model {model.name!r} has no known input (a subclassed model); pass "
                f"`input_shape`, e.g. input_shape=(224, 224, 3)."
            )
        if None in declared[-1:] or (len(declared) != 3 and None in declared):
            raise ValueError(
                f"Model {model.name!r} has input shape {declared!r} with unknown "
                f"channels; pass `input_shape`, e.g. input_shape=(224, 224, 3)."
            )
        return declared, False  # unknown height or width: what depends on them is None
    if (not isinstance(input_shape, (tuple, list)) or not input_shape
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0
                       for d in input_shape)):
        raise ValueError(
            f"`input_shape` must be a tuple of positive ints without the batch axis, "
            f"e.g. (224, 224, 3); got input_shape={input_shape!r}."
        )
    input_shape = tuple(input_shape)
    if declared is not None:
        if len(declared) != len(input_shape) or any(
                d is not None and d != s for d, s in zip(declared, input_shape)):
            raise ValueError(
                f"`input_shape`={input_shape!r} does not fit model {model.name!r}, "
                f"whose input shape is {declared!r}."
            )
    return input_shape, declared != input_shape


def _graph(model, input_shape, retrace):
    """The model's graph: its own if it is functional at this shape, else a trace."""
    graph = getattr(model, "_functional", None) or model  # a Sequential's own graph
    if not retrace and hasattr(graph, "_nodes_by_depth") and graph.inputs:
        return graph.inputs, graph.outputs, graph._nodes_by_depth
    dtype = model.inputs[0].dtype if getattr(model, "inputs", None) else "float32"
    x = keras.Input(shape=input_shape, dtype=dtype)
    outputs = keras.tree.flatten(model.call(x, training=False)
                                 if _accepts_training(model) else model.call(x))
    function = keras.Function([x], outputs)
    return [x], outputs, function._nodes_by_depth


def _accepts_training(model):
    try:
        return "training" in inspect.signature(model.call).parameters
    except (TypeError, ValueError):
        return False


def summarize(model, input_shape=None):
    """Per-layer shapes, parameters, MACs and receptive fields of a Keras model.

    Composite layers (kcnn's blocks, nested models, your own layers) are one row each;
    their MACs and receptive field come from the layers and ops inside them. Receptive
    fields follow every path through branches and merges (Araujo et al., 2019) and are
    given for 2-D `channels_last` feature maps, per axis (height, width), in input pixels.

    Counted MACs (one image, one forward pass): convolutions (grouped, depthwise,
    separable, transposed), dense layers, `LocallyConnected2D`, and `keras.ops.matmul`
    on a weight. Counted as zero: pooling, normalization, activations, dropout, merges,
    padding, reshapes, upsampling. Anything else is listed in `totals["uncounted"]` and
    shown as `?`, never as zero.

    A model built for any size (`input_shape=(None, None, 3)`) is analysed as it is:
    parameters, and receptive fields, jumps and starts where they do not depend on the
    size (a strided "same" window pads by the size's parity, so the start after it is
    `None` while the field's size and jump stay exact; a global pooling's field covers
    the whole unknown map: `None`); output shapes and MACs depend on the size and are
    `None`. Pass `input_shape` to analyse it at one size.

    Args:
        model: a `keras.Model` with one input.
        input_shape: tuple of ints or None. Input shape without the batch axis, at which
            to analyse the model; needed for a model without a known input (a
            subclassed model). Defaults to `None`: the model's own input shape.

    Returns:
        A `Summary`: a list of row dicts with keys `name`, `type`, `output_shape`,
        `params`, `non_trainable`, `macs` (`None` when not counted),
        `receptive_field`, `jump`, `start` (pairs (height, width), `None` when not
        known) and `uncounted` (the parts of this row whose MACs are not counted),
        and a `totals` dict; `print(summary)` prints the table.

    Raises:
        ValueError: if `model` is not a one-input model, or its input (or its channels)
            is unknown and `input_shape` is not given, or `input_shape` does not fit.

    Example:
    >>> s = summarize(kcnn.models.lenet5())
    >>> s.totals["params"], s[-1]["receptive_field"]
    (61706, (32, 32))
    """
    input_shape, retrace = _check_input_shape(model, input_shape)
    inputs, outputs, nodes_by_depth = _graph(model, input_shape, retrace)
    rows, seen = [], set()

    def visit(node, result):
        op = node.operation
        if type(op).__name__ == "ConvertToTensor":
            return  # recorded by re-running `call` on a symbolic input: not a layer
        first = id(op) not in seen
        seen.add(id(op))
        weights = isinstance(op, keras.layers.Layer) and first
        field = result.fields[0] if result.fields else None
        shapes = [tuple(t.shape) for t in node.outputs]
        rows.append({
            "name": op.name,
            "type": type(op).__name__,
            "output_shape": shapes[0] if len(shapes) == 1 else shapes,
            "params": _count(op.trainable_weights) if weights else 0,
            "non_trainable": _count(op.non_trainable_weights) if weights else 0,
            "macs": None if result.uncounted else result.macs,
            "receptive_field": None if field is None else plain(field.size),
            "jump": None if field is None else plain(field.jump),
            "start": None if field is None else plain(field.start),
            "uncounted": result.uncounted,
        })

    macs, uncounted, fields = walk(inputs, nodes_by_depth, [Field.of_input()], visit)
    field = fields.get(id(outputs[0]))
    totals = {
        "params": sum(r["params"] for r in rows),
        "non_trainable": sum(r["non_trainable"] for r in rows),
        "input_shape": input_shape,
        "macs": macs if None not in input_shape else None,
        "uncounted": uncounted,
        "receptive_field": None if field is None else plain(field.size),
        "jump": None if field is None else plain(field.jump),
        "start": None if field is None else plain(field.start),
    }
    return Summary(rows, totals, model.name)
