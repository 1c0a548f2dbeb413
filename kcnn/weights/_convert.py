"""All-or-nothing loading of converted weights into a kcnn model (shared by the converters).

A converter turns each of the model's weights into a `Target`: the source tensor it comes
from, the shape that tensor must have, and how to turn it into kcnn's layout. `load`
checks every target against the source before anything is assigned, so a refused load
leaves the model as it was.
"""

import dataclasses

import numpy as np

# How many names of each kind an error message lists before "and N more".
_LISTED = 25


@dataclasses.dataclass(frozen=True)
class Target:
    """Where one kcnn weight comes from.

    Attributes:
        path: the kcnn variable's path (`variable.path`, e.g. "stage1_block1/conv1/conv/kernel").
        key: the source tensor's name, or None when no source name exists for this weight.
        source_shape: the shape the source tensor must have.
        convert: function from the source array to kcnn's layout.
        unit: the weights that load together (a layer's kernel and bias, a BatchNorm's
            four statistics): with `strict=False` a unit loads whole or not at all.
    """

    path: str
    key: str | None
    source_shape: tuple
    convert: object
    unit: str


@dataclasses.dataclass
class LoadReport:
    """What a load did.

    Attributes:
        loaded: kcnn weight paths that were assigned.
        missing: kcnn weight paths left as they were: `(path, source key or None)`.
        unexpected: source keys that nothing used.
        mismatched: `(source key, source shape, kcnn path, expected source shape)`.
        not_loaded: every kcnn weight path left as it was (missing, mismatched, or in a
            layer that did not load whole).
    """

    loaded: list = dataclasses.field(default_factory=list)
    not_loaded: list = dataclasses.field(default_factory=list)
    missing: list = dataclasses.field(default_factory=list)
    unexpected: list = dataclasses.field(default_factory=list)
    mismatched: list = dataclasses.field(default_factory=list)

    @property
    def complete(self):
        """True when every weight was loaded and every source tensor used."""
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self, limit=_LISTED):
        """The problems, one per line (at most `limit` of each kind)."""
        lines = []

        def listed(title, items, fmt):
            if not items:
                return
            lines.append(f"{title} ({len(items)}):")
            lines.extend(f"  {fmt(item)}" for item in items[:limit])
            if len(items) > limit:
                lines.append(f"  ... and {len(items) - limit} more")

        listed("shape mismatches", self.mismatched,
               lambda m: f"{m[0]}: {tuple(m[1])} in the file, {tuple(m[3])} expected "
                         f"for {m[2]}")
        listed("kcnn weights with no source tensor", self.missing,
               lambda m: f"{m[0]} (expected {m[1]!r})" if m[1] else
                         f"{m[0]} (no name in this source)")
        listed("source tensors not used", self.unexpected, str)
        return "\n".join(lines)


class WeightsMismatchError(ValueError):
    """The weights do not fit the model; `report` (a `LoadReport`) lists every problem."""

    def __init__(self, message, report):
        super().__init__(message)
        self.report = report


def load(model, targets, state, *, strict=True, skip=(), source="the weights",
         what="model"):
    """Checks every target against `state`, then assigns; see `LoadReport`.

    Args:
        model: the `keras.Model` to fill.
        targets: one `Target` per weight of `model`.
        state: dict of source name -> NumPy array.
        strict: bool. Refuse (`WeightsMismatchError`) unless every weight is filled and
            every source tensor used. With `False`, load every unit that matches
            completely and report the rest. Either way nothing is assigned when the load
            is refused.
        skip: source keys that are not weights (torchvision's `num_batches_tracked`):
            never reported as unused.
        source: str. Names the weights in messages (a file name).
        what: str. Names the model in messages.

    Returns:
        A `LoadReport`.
    """
    by_path = {v.path: v for v in model.weights}
    report = LoadReport()
    used = set()
    values = {}
    failed_units = set()
    for t in targets:
        if t.key is None or t.key not in state:
            report.missing.append((t.path, t.key))
            failed_units.add(t.unit)
            continue
        used.add(t.key)
        array = np.asarray(state[t.key])
        if tuple(array.shape) != tuple(t.source_shape):
            report.mismatched.append((t.key, tuple(array.shape), t.path, tuple(t.source_shape)))
            failed_units.add(t.unit)
            continue
        value = np.asarray(t.convert(array))
        variable = by_path[t.path]
        if tuple(value.shape) != tuple(variable.shape):   # a converter bug, never the file's
            raise AssertionError(f"{t.path}: converted to {value.shape}, "
                                 f"variable is {tuple(variable.shape)}")
        values[t.path] = (t.unit, value)
    targeted = {t.path for t in targets}
    report.missing.extend((p, None) for p in by_path if p not in targeted)
    skip = set(skip)
    report.unexpected = [k for k in state if k not in used and k not in skip]

    if not report.complete and strict:
        raise WeightsMismatchError(
            f"{source} do not fit this {what}; nothing was loaded (strict=False loads the "
            f"weights that fit and reports the rest):\n{report.describe()}", report)
    chosen = {p: v for p, (unit, v) in values.items() if unit not in failed_units}
    if not chosen:
        raise WeightsMismatchError(
            f"{source}: no tensor fits this {what}; nothing was loaded:\n"
            f"{report.describe()}", report)
    _assign(by_path, chosen)
    report.loaded = list(chosen)
    report.not_loaded = [p for p in by_path if p not in chosen]
    return report


def _assign(by_path, values):
    """Assigns all values, or (should one assignment fail) restores the earlier ones."""
    done = []
    try:
        for path, value in values.items():
            variable = by_path[path]
            old = np.array(variable.numpy())
            variable.assign(value.astype(variable.dtype))
            done.append((variable, old))
    except Exception:
        for variable, old in done:
            variable.assign(old)
        raise
