"""Convolution arithmetic: feature-map sizes and the padding Keras applies."""

import math


def _pair_or_int(value, arg, minimum):
    """Checks one int argument (or each int of a tuple) and returns a tuple of ints."""
    values = value if isinstance(value, (tuple, list)) else (value,)
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum
                             for v in values):
        raise ValueError(
            f"`{arg}` must be an int >= {minimum} or a tuple of such ints; got {arg}={value!r}."
        )
    return tuple(values)


def _broadcast(values, n, arg, original):
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise ValueError(
            f"`{arg}`={original!r} has {len(values)} entries but `size` has {n} axes."
        )
    return values


def same_padding(size, kernel_size, strides=1, dilation_rate=1):
    """Zeros added before the first pixel by `padding="same"` on one axis.

    Keras (on every backend) and TensorFlow pad `total = max((ceil(n/s) - 1)·s + K − n, 0)`
    zeros, `total // 2` of them before the first pixel and the rest after the last.

    Args:
        size: int. Input size `n` along the axis.
        kernel_size: int. Kernel size `K` before dilation.
        strides: int. Stride `s`. Defaults to 1.
        dilation_rate: int. Dilation `D`; the effective kernel is `D·(K − 1) + 1`.

    Returns:
        A pair of ints: zeros before and after.
    """
    effective = dilation_rate * (kernel_size - 1) + 1
    total = max((math.ceil(size / strides) - 1) * strides + effective - size, 0)
    return total // 2, total - total // 2


def conv_output_size(size, kernel_size, strides=1, padding="valid", dilation_rate=1):
    """Feature-map size after a convolution or pooling: `floor((W − K + 2P) / S) + 1`.

    Args:
        size: int or tuple of ints. Input size along one axis, or one per axis.
        kernel_size: int or tuple of ints. Kernel (or pool) size.
        strides: int or tuple of ints. Stride. Defaults to 1.
        padding: `"valid"` (no padding), `"same"` (output `ceil(W / S)`) or an int `P`
            (zeros on both sides, as PyTorch's `padding=`). Defaults to `"valid"`.
        dilation_rate: int or tuple of ints. Dilation `D`; the kernel covers
            `D·(K − 1) + 1` pixels. Defaults to 1.

    Returns:
        An int if `size` is an int, else a tuple of ints.

    Raises:
        ValueError: for malformed arguments, or when the kernel does not fit
            (the output would have fewer than one unit).

    Example:
    >>> conv_output_size(224, 11, strides=4, padding=2)
    55
    >>> conv_output_size((224, 224), 3, strides=2, padding="same")
    (112, 112)
    """
    scalar = not isinstance(size, (tuple, list))
    sizes = _pair_or_int(size, "size", 1)
    n = len(sizes)
    kernels = _broadcast(_pair_or_int(kernel_size, "kernel_size", 1), n, "kernel_size",
                         kernel_size)
    stride_values = _broadcast(_pair_or_int(strides, "strides", 1), n, "strides", strides)
    dilations = _broadcast(_pair_or_int(dilation_rate, "dilation_rate", 1), n,
                           "dilation_rate", dilation_rate)
    if padding not in ("valid", "same"):
        pads = _broadcast(_pair_or_int(padding, "padding", 0), n, "padding", padding)
    out = []
    for axis, (w, k, s, d) in enumerate(zip(sizes, kernels, stride_values, dilations)):
        effective = d * (k - 1) + 1
        if padding == "same":
            out.append(math.ceil(w / s))
            continue
        p = 0 if padding == "valid" else pads[axis]
        if w + 2 * p < effective:
            raise ValueError(
                f"Impossible convolution arithmetic: a kernel covering {effective} pixels "
                f"does not fit in size={w} with padding={p} on each side (axis {axis}); "
                f"the output would have fewer than one unit."
            )
        out.append((w + 2 * p - effective) // s + 1)
    return out[0] if scalar else tuple(out)
