"""ConvBlock's integer padding: the zeros PyTorch's `padding=` adds, by the convolution's own
"same" where that pads the same zeros (stride 1, odd kernel), by ZeroPadding2D elsewhere."""

import keras
import numpy as np
import pytest

from kcnn.layers import ConvBlock

# (kernel, padding, strides): "same" equals the padding in the first three only.
CASES = [(3, 1, 1), (5, 2, 1), (11, 5, 1), (3, 2, 1), (1, 1, 1), (4, 1, 1), (3, 1, 2),
         (7, 3, 2), (11, 2, 4)]


@pytest.mark.parametrize("size", [9, 12])
@pytest.mark.parametrize("kernel,padding,strides", CASES)
def test_integer_padding_is_pytorch_padding(kernel, padding, strides, size):
    x = np.random.default_rng(0).standard_normal((2, size, size, 3)).astype("float32")
    block = ConvBlock(4, kernel, strides=strides, padding=padding, activation=None)
    got = np.asarray(block(x))
    padded = np.pad(x, [(0, 0), (padding, padding), (padding, padding), (0, 0)])
    reference = keras.layers.Conv2D(4, kernel, strides=strides, padding="valid")
    reference.build(padded.shape)
    reference.set_weights(block.conv.get_weights())
    np.testing.assert_allclose(got, np.asarray(reference(padded)), rtol=1e-5, atol=1e-5)
    uses_same = (kernel, padding, strides) in CASES[:3]
    assert (block.pad is None) == uses_same
    assert block.conv.padding == ("same" if uses_same else "valid")
    assert block.get_config()["padding"] == padding  # what files save is unchanged
