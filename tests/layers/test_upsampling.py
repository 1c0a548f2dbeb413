"""The bilinear-initialized transposed convolution is bilinear upsampling."""

import keras
import numpy as np
import pytest

from conftest import assert_keras_roundtrip, random_images
from kcnn.layers import BilinearUpsampling, bilinear_kernel_size, bilinear_upsampler


@pytest.mark.parametrize("factor", [2, 3, 4, 32])
def test_matches_upsampling2d_bilinear_away_from_borders(factor):
    x = random_images((6, 5, 3))
    got = keras.ops.convert_to_numpy(bilinear_upsampler(3, factor)(x))
    resize = keras.layers.UpSampling2D(factor, interpolation="bilinear")
    expected = keras.ops.convert_to_numpy(resize(x))
    assert got.shape == expected.shape == (2, 6 * factor, 5 * factor, 3)
    inner = (slice(None), slice(factor, -factor), slice(factor, -factor))
    np.testing.assert_allclose(got[inner], expected[inner], atol=1e-5, rtol=0)
    # At the borders the transposed convolution sees zeros where resizing repeats the
    # edge: they differ there, which is why the comparison above leaves them out.
    assert np.abs(got - expected).max() > 1e-2


def test_kernel_by_hand_for_factor_2():
    # Tent for size 4: 1 − |t − 1.5| / 2 = [0.25, 0.75, 0.75, 0.25]; channels not mixed.
    kernel = keras.ops.convert_to_numpy(BilinearUpsampling()((4, 4, 2, 2)))
    tent = np.array([0.25, 0.75, 0.75, 0.25])
    np.testing.assert_allclose(kernel[:, :, 0, 0], np.outer(tent, tent))
    np.testing.assert_allclose(kernel[:, :, 1, 1], np.outer(tent, tent))
    assert np.all(kernel[:, :, 0, 1] == 0) and np.all(kernel[:, :, 1, 0] == 0)
    assert [bilinear_kernel_size(f) for f in (1, 2, 3, 32)] == [1, 4, 5, 64]


def test_trainable_and_saved_with_safe_mode(tmp_path):
    inputs = keras.Input((4, 4, 2))
    up = bilinear_upsampler(2, 2, name="up")
    model = keras.Model(inputs, up(inputs))
    assert len(up.trainable_weights) == 1
    assert keras.initializers.deserialize(
        keras.initializers.serialize(BilinearUpsampling())).__class__ is BilinearUpsampling
    assert_keras_roundtrip(model, random_images((4, 4, 2)), tmp_path / "up.keras")
    assert not bilinear_upsampler(2, 2, trainable=False).trainable


def test_bad_input():
    with pytest.raises(ValueError, match="channels, channels"):
        BilinearUpsampling()((4, 4, 3, 2))
    with pytest.raises(ValueError, match="factor"):
        bilinear_kernel_size(0)
    with pytest.raises(ValueError, match="channels"):
        bilinear_upsampler(0, 2)
