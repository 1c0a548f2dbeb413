"""Receptive-field bookkeeping (Araujo et al., Distill 2019), one object per tensor.

A `Field` describes, per spatial axis, the input pixels seen by the *first* unit of a
feature map: from `left` to `right` (inclusive, pixel centres, 0-based, negative inside
the padding), and `jump`, the distance in input pixels between neighbouring units. Every
other unit sees the same span shifted by a multiple of `jump`. Values are exact fractions.
`None` stands for "not known" and propagates: a field is never guessed.
"""

from fractions import Fraction
from typing import NamedTuple


class Field(NamedTuple):
    left: tuple    # per axis (height, width)
    right: tuple
    jump: tuple

    @classmethod
    def of_input(cls):
        zero, one = Fraction(0), Fraction(1)
        return cls((zero, zero), (zero, zero), (one, one))

    @property
    def size(self):
        return tuple(r - l + 1 for l, r in zip(self.left, self.right))

    @property
    def start(self):
        return tuple((l + r) / 2 for l, r in zip(self.left, self.right))


def window(field, kernel, strides, pad_before, dilation=(1, 1)):
    """The field after a sliding window (convolution or pooling) on both spatial axes.

    Output unit 0 covers input units `-pad_before … -pad_before + D·(K − 1)`.
    """
    if field is None:
        return None
    left, right, jump = [], [], []
    for a in range(2):
        effective = dilation[a] * (kernel[a] - 1) + 1
        j = field.jump[a]
        left.append(field.left[a] - pad_before[a] * j)
        right.append(field.right[a] + (effective - 1 - pad_before[a]) * j)
        jump.append(j * strides[a])
    return Field(tuple(left), tuple(right), tuple(jump))


def union(fields):
    """The field of a unit that reads the same position of several aligned maps."""
    if not fields or any(f is None for f in fields):
        return None
    if len({f.jump for f in fields}) != 1:
        return None
    left = tuple(min(f.left[a] for f in fields) for a in range(2))
    right = tuple(max(f.right[a] for f in fields) for a in range(2))
    return Field(left, right, fields[0].jump)


def plain(value):
    """A Fraction as an int when whole, else a float; tuples element-wise."""
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return int(value) if value.denominator == 1 else float(value)
