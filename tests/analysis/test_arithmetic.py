"""conv_output_size against brute-force counting and against Keras's own shapes."""

import itertools

import keras
import pytest

from kcnn.analysis import conv_output_size, same_padding


def count_positions(size, kernel, stride, pad_before, pad_after, dilation):
    """Counts the window placements by walking over the padded axis."""
    span = dilation * (kernel - 1) + 1
    padded = size + pad_before + pad_after
    return sum(1 for start in range(0, padded, stride) if start + span <= padded)


def test_formula_matches_counting():
    for size, kernel, stride, dilation, pad in itertools.product(
            (7, 8, 32, 224), (1, 3, 5, 11), (1, 2, 4), (1, 2), (0, 1, 2)):
        span = dilation * (kernel - 1) + 1
        if size + 2 * pad >= span:
            expected = count_positions(size, kernel, stride, pad, pad, dilation)
            assert conv_output_size(size, kernel, stride, pad, dilation) == expected
        before, after = same_padding(size, kernel, stride, dilation)
        assert conv_output_size(size, kernel, stride, "same", dilation) == count_positions(
            size, kernel, stride, before, after, dilation) == -(-size // stride)


@pytest.mark.parametrize("size, kernel, stride, padding", [
    ((224, 224), 7, 2, "same"), ((227, 200), 11, 4, "valid"), ((56, 57), 3, 2, "same"),
    ((13, 13), 3, 2, "valid"), ((9, 10), (3, 1), (2, 1), "same"),
])
def test_matches_keras_conv_and_pooling_shapes(size, kernel, stride, padding):
    conv = keras.layers.Conv2D(1, kernel, strides=stride, padding=padding)
    pool = keras.layers.MaxPooling2D(kernel, strides=stride, padding=padding)
    for layer in (conv, pool):
        shape = layer.compute_output_shape((1, *size, 1))
        assert conv_output_size(size, kernel, stride, padding) == tuple(shape[1:3])


def test_examples_from_the_papers():
    assert conv_output_size(224, 11, strides=4, padding=2) == 55     # AlexNet (torchvision)
    assert conv_output_size(227, 11, strides=4) == 55                # AlexNet (paper)
    assert conv_output_size(55, 3, strides=2) == 27                  # overlapping pool
    assert conv_output_size(224, 3, padding=1, dilation_rate=1) == 224
    assert conv_output_size(32, 5) == 28                              # LeNet-5 C1


def test_bad_input():
    for kwargs, match in [
        (dict(size=4, kernel_size=5), "Impossible convolution arithmetic"),
        (dict(size=4, kernel_size=3, dilation_rate=2), "fewer than one unit"),
        (dict(size=0, kernel_size=1), "size"),
        (dict(size=8, kernel_size=3, strides=0), "strides"),
        (dict(size=8, kernel_size=3, padding="full"), "padding"),
        (dict(size=(8, 8), kernel_size=(3, 3, 3)), "kernel_size"),
        (dict(size=8.0, kernel_size=3), "size"),
    ]:
        with pytest.raises(ValueError, match=match):
            conv_output_size(**kwargs)
