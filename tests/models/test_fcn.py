"""fcn32s: output at the input resolution, aligned bilinear upsampling of the score map."""

import keras
import numpy as np
import pytest

import kcnn
from conftest import count_trainable, random_images
from kcnn.analysis import summarize


def tent(d, stride):
    return np.maximum(0.0, 1.0 - np.abs(d) / stride)


def check_bilinear_alignment(model, x):
    """Output pixel (r, c) is the bilinear interpolation of the score cells at the centres
    of their receptive fields, as kcnn.analysis computes them (independent of fcn.py)."""
    score_model = keras.Model(model.inputs[0], model.get_layer("score").output)
    row = summarize(score_model)[-1]
    (start, _), (jump, _) = row["start"], row["jump"]
    scores = keras.ops.convert_to_numpy(score_model(x))
    out = keras.ops.convert_to_numpy(model(x))
    height, width = x.shape[1:3]
    rows = tent(np.arange(height)[:, None] - (start + jump * np.arange(scores.shape[1])), jump)
    cols = tent(np.arange(width)[:, None] - (start + jump * np.arange(scores.shape[2])), jump)
    expected = np.einsum("hu,wv,buvk->bhwk", rows, cols, scores)
    # Relative to the scores' scale (small at initialization): a one-pixel shift changes
    # the output by about 1/32 of the differences between neighbouring cells.
    np.testing.assert_allclose(out, expected, atol=1e-5 * np.abs(expected).max(), rtol=0)
    return scores.shape[1:3]


@pytest.mark.slow
def test_vgg16_fcn32s_shape_parameters_and_alignment():
    model = kcnn.models.fcn32s(input_shape=(96, 70, 3))  # defaults: vgg16, 21 classes
    assert model.output_shape == (None, 96, 70, 21)
    # conv layers 14,714,688 + fc6 7·7·512·4096 + 4096 + fc7 4096·4096 + 4096
    # + score 4096·21 + 21 + upscore 64·64·21·21 (no bias) — see docs/concepts.md.
    assert count_trainable(model) == 14_714_688 + 102_764_544 + 16_781_312 + 86_037 \
        + 1_806_336 == 136_152_917
    cells = check_bilinear_alignment(model, random_images((96, 70, 3), batch=1))
    # n cells upsample to (n − 1)·32 + 64 pixels: 96 and 70 need n = 2, i.e. a padded
    # size L with L // 32 − 6 = 2: L = 256 = 80 + 96 + 80 = 80 + 70 + 106.
    assert cells == (2, 2)
    assert model.get_layer("pad").padding == ((80, 80), (80, 106))


@pytest.mark.slow
def test_alexnet_fcn32s_alignment_and_softmax():
    model = kcnn.models.fcn32s(input_shape=(45, 77, 3), num_classes=4, backbone="alexnet",
                               classifier_activation="softmax")
    assert model.output_shape == (None, 45, 77, 4)
    out = keras.ops.convert_to_numpy(model(random_images((45, 77, 3), batch=1)))
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-5)
    logits = keras.Model(model.inputs[0], model.get_layer("crop").output)
    check_bilinear_alignment(logits, random_images((45, 77, 3), batch=1))


def test_bad_input_names_the_argument_and_the_minimum():
    with pytest.raises(ValueError, match="minimum height and width for this architecture is 32"):
        kcnn.models.fcn32s(input_shape=(31, 64, 3))
    with pytest.raises(ValueError, match="backbone"):
        kcnn.models.fcn32s(backbone="resnet50")
    with pytest.raises(ValueError, match="num_classes"):
        kcnn.models.fcn32s(num_classes=0)
