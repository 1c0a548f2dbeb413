"""kcnn.layers: shapes, serialization, and numbers against NumPy references."""

import keras
import numpy as np
import pytest

from conftest import assert_config_roundtrip, count_trainable, random_images
from kcnn.layers import (AuxiliaryClassifier, ChannelAffine, ConvBlock, InceptionBlock,
                         LocalResponseNormalization, NiNBlock, ResidualBlock)

# (id, layer factory, input shape without batch)
LAYERS = [
    ("conv_block", lambda: ConvBlock(8, 3, strides=2, padding=1, batch_norm=True), (9, 9, 3)),
    ("conv_block_grouped", lambda: ConvBlock(8, 3, groups=2, activation=None), (8, 8, 4)),
    ("inception_3a", lambda: InceptionBlock(64, 96, 128, 16, 32, 32), (8, 8, 192)),
    ("inception_bn_3x3", lambda: InceptionBlock(8, 4, 8, 2, 4, 4, branch3_kernel_size=3,
                                                batch_norm=True), (6, 6, 5)),
    ("residual_basic", lambda: ResidualBlock(8), (6, 6, 8)),
    ("residual_zero_pad", lambda: ResidualBlock(16, strides=2, shortcut="zero_pad"),
     (8, 8, 8)),
    ("residual_bottleneck", lambda: ResidualBlock(4, kind="bottleneck", strides=2),
     (8, 8, 8)),
    ("residual_v1", lambda: ResidualBlock(4, kind="bottleneck", strides=2,
                                          stride_in_1x1=True), (8, 8, 8)),
    ("residual_plain", lambda: ResidualBlock(16, strides=2, shortcut=False), (8, 8, 8)),
    ("nin_block", lambda: NiNBlock((12, 8, 4), 5, strides=2, padding=2), (9, 9, 3)),
    ("auxiliary", lambda: AuxiliaryClassifier(7, batch_norm=True), (14, 14, 16)),
    ("auxiliary_torchvision", lambda: AuxiliaryClassifier(7, batch_norm=True, adaptive_pool=4,
                                                          bn_epsilon=1e-3), (6, 6, 16)),
    ("channel_affine", lambda: ChannelAffine([2.0, 1.0, 0.5], [0.0, 1.0, -1.0]), (4, 4, 3)),
    ("lrn", lambda: LocalResponseNormalization(size=3, alpha=1e-3, beta=0.5, k=1.0),
     (4, 4, 6)),
]


@pytest.mark.parametrize("factory,shape", [c[1:] for c in LAYERS], ids=[c[0] for c in LAYERS])
def test_shapes_and_config_roundtrip(factory, shape):
    layer = factory()
    x = random_images(shape)
    y = layer(x)
    assert tuple(layer.compute_output_shape(x.shape)) == tuple(y.shape)
    assert np.isfinite(np.asarray(y)).all()
    assert_config_roundtrip(layer)
    clone = type(layer).from_config(layer.get_config())
    clone(x)
    assert count_trainable(clone) == count_trainable(layer)


def _conv2d_reference(x, kernel, bias, stride, pad):
    """Direct NumPy convolution with symmetric zero padding, as PyTorch's padding=."""
    x = np.pad(x, [(0, 0), (pad, pad), (pad, pad), (0, 0)])
    k = kernel.shape[0]
    out_h = (x.shape[1] - k) // stride + 1
    out_w = (x.shape[2] - k) // stride + 1
    out = np.zeros((x.shape[0], out_h, out_w, kernel.shape[-1]))
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, i * stride:i * stride + k, j * stride:j * stride + k, :]
            out[:, i, j, :] = np.tensordot(window, kernel, axes=3)
    return out + bias


def test_conv_block_integer_padding_is_symmetric_like_pytorch():
    block = ConvBlock(5, 3, strides=2, padding=1, activation=None)
    x = random_images((8, 8, 3))
    y = np.asarray(block(x))
    kernel, bias = (np.asarray(w) for w in block.conv.weights)
    ref = _conv2d_reference(x, kernel, bias, stride=2, pad=1)
    assert y.shape == (2, 4, 4, 5)
    np.testing.assert_allclose(y, ref, atol=1e-5)


def test_lrn_matches_paper_formula():
    size, alpha, beta, k = 5, 1e-2, 0.75, 2.0
    x = random_images((3, 3, 7)) * 3
    y = np.asarray(LocalResponseNormalization(size, alpha, beta, k)(x))
    ref = np.empty_like(x)
    channels = x.shape[-1]
    for c in range(channels):
        lo, hi = max(0, c - size // 2), min(channels - 1, c + size // 2)
        ref[..., c] = x[..., c] / (k + alpha * np.sum(x[..., lo:hi + 1] ** 2, -1)) ** beta
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


def test_zero_pad_shortcut_is_option_a():
    """relu(F(x) + pad(x[::2, ::2])): the extra channels of the shortcut are zeros."""
    block = ResidualBlock(6, strides=2, shortcut="zero_pad")
    plain = ResidualBlock(6, strides=2, shortcut=False)
    x = random_images((6, 6, 4))
    block(x)
    plain(x)
    plain.set_weights(block.get_weights())
    residual = np.asarray(block.residual[1](block.residual[0](x)))  # F(x), before the add
    shortcut = np.zeros_like(residual)
    shortcut[..., :4] = x[:, ::2, ::2, :]
    np.testing.assert_allclose(np.asarray(block(x)), np.maximum(residual + shortcut, 0),
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(plain(x)), np.maximum(residual, 0), atol=1e-6)
    assert count_trainable(block) == count_trainable(plain)  # option A is parameter-free


def test_projection_shortcut_adds_1x1_conv_and_bn():
    block = ResidualBlock(8, strides=2, shortcut="projection")
    block(random_images((8, 8, 4)))
    # conv1 3·3·4·8 + BN 16, conv2 3·3·8·8 + BN 16, projection 4·8 + BN 16
    assert count_trainable(block) == 288 + 16 + 576 + 16 + 32 + 16


def test_inception_branches_and_1x1_branch_value():
    block = InceptionBlock(3, 2, 4, 1, 5, 6)
    x = random_images((5, 5, 7))
    y = np.asarray(block(x))
    assert y.shape == (2, 5, 5, 3 + 4 + 5 + 6)
    kernel, bias = (np.asarray(w) for w in block.branch1.conv.weights)
    ref = np.maximum(np.tensordot(x, kernel[0, 0], axes=1) + bias, 0)
    np.testing.assert_allclose(y[..., :3], ref, atol=1e-5)
    # 3×3 pool branch: the pool cannot see past the border (pads with -inf, as PyTorch).
    assert block.branch4_pool.padding == "same"


def test_auxiliary_classifier_paper_sizes():
    head = AuxiliaryClassifier(1000)
    head(random_images((14, 14, 512), batch=1))
    # 1×1 conv 512→128 + bias, dense 4·4·128 → 1024, dense 1024 → 1000
    assert count_trainable(head) == 512 * 128 + 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000


@pytest.mark.parametrize("factory,message", [
    (lambda: ConvBlock(4, 3, padding="full"), "`padding`"),
    (lambda: ResidualBlock(4, kind="wide"), "`kind`"),
    (lambda: ResidualBlock(4, shortcut="option_c"), "`shortcut`"),
    (lambda: ResidualBlock(4, strides=0), "`strides`"),
    (lambda: NiNBlock((4, 4)), "`filters`"),
    (lambda: LocalResponseNormalization(size=0), "`size`"),
])
def test_bad_arguments(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()


def test_identity_shortcut_refuses_shape_change():
    with pytest.raises(ValueError, match="shortcut='identity' needs an unchanged shape"):
        ResidualBlock(8, strides=2, shortcut="identity")(random_images((8, 8, 8)))


def test_auxiliary_classifier_refuses_small_maps():
    with pytest.raises(ValueError, match="at least 5×5"):
        AuxiliaryClassifier(10)(keras.Input((4, 4, 8)))
