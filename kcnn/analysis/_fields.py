"""Receptive-field bookkeeping (Araujo et al., Distill 2019), one object per tensor.

A `Field` describes, per spatial axis, the input pixels seen by the *first* unit of a
feature map: from `left` to `right` (inclusive, pixel centres, 0-based, negative inside
the padding), and `jump`, the distance in input pixels between neighbouring units. Every
other unit sees the same span shifted by a multiple of `jump`. Values are exact fractions.
`None` stands for "not known" and propagates: a field is never guessed.

When the input size is unknown, a strided `"same"` window may pad a number of zeros that
depends on it (0 or 1 before a 3×3/2 window, by the parity of the size). Such a padding
is an `Unknown`: it moves both ends of the field by the same `-pad · jump`, so the size
and the jump stay exact while the position does not. `unknown` keeps, per axis, the set
of `(Unknown, jump)` shifts that `left` and `right` omit; `start` is `None` on an axis
with any. Fields are merged only when their shifts are the same ones.
"""

from fractions import Fraction
from typing import NamedTuple

_NO_SHIFT = (frozenset(), frozenset())


class Unknown:
    """A padding that depends on the (unknown) input size; equal only to itself."""

    __slots__ = ()

    def __repr__(self):
        return "Unknown()"


class Field(NamedTuple):
    left: tuple    # per axis (height, width)
    right: tuple
    jump: tuple
    unknown: tuple = _NO_SHIFT  # per axis: the (Unknown, jump) shifts of both ends

    @classmethod
    def of_input(cls):
        zero, one = Fraction(0), Fraction(1)
        return cls((zero, zero), (zero, zero), (one, one))

    @property
    def size(self):
        return tuple(r - l + 1 for l, r in zip(self.left, self.right))

    @property
    def start(self):
        return tuple(None if u else (l + r) / 2
                     for l, r, u in zip(self.left, self.right, self.unknown))


def window(field, kernel, strides, pad_before, dilation=(1, 1)):
    """The field after a sliding window (convolution or pooling) on both spatial axes.

    Output unit 0 covers input units `-pad_before … -pad_before + D·(K − 1)`; a
    `pad_before` entry may be an `Unknown`.
    """
    if field is None:
        return None
    left, right, jump, unknown = [], [], [], []
    for a in range(2):
        effective = dilation[a] * (kernel[a] - 1) + 1
        j, pad, shifts = field.jump[a], pad_before[a], field.unknown[a]
        if isinstance(pad, Unknown):
            shifts, pad = shifts | {(pad, j)}, 0
        left.append(field.left[a] - pad * j)
        right.append(field.right[a] + (effective - 1 - pad) * j)
        jump.append(j * strides[a])
        unknown.append(shifts)
    return Field(tuple(left), tuple(right), tuple(jump), tuple(unknown))


def union(fields):
    """The field of a unit that reads the same position of several aligned maps."""
    if not fields or any(f is None for f in fields):
        return None
    if len({f.jump for f in fields}) != 1 or len({f.unknown for f in fields}) != 1:
        return None
    left = tuple(min(f.left[a] for f in fields) for a in range(2))
    right = tuple(max(f.right[a] for f in fields) for a in range(2))
    return Field(left, right, fields[0].jump, fields[0].unknown)


def plain(value):
    """A Fraction as an int when whole, else a float; tuples element-wise; None stays."""
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if value is None:
        return None
    return int(value) if value.denominator == 1 else float(value)
