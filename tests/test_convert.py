"""to_fully_convolutional: same output at the original size, one window per map cell."""

import keras
import numpy as np
import pytest

import kcnn
from conftest import random_images
from kcnn.analysis import summarize
from kcnn.convert import to_fully_convolutional


def run(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def test_lenet5_same_output_and_every_cell_is_the_model_on_its_window():
    model = kcnn.models.lenet5()
    conv = to_fully_convolutional(model)
    assert conv.input_shape == (None, None, None, 1)
    x = random_images((32, 32, 1))
    np.testing.assert_allclose(run(conv, x)[:, 0, 0], run(model, x), atol=1e-5, rtol=0)

    big = random_images((44, 40, 1), seed=1)
    out = run(conv, big)
    stride = summarize(model)[-1]["jump"]        # 4: two 2×2/2 pools, read from the analysis
    assert stride == (4, 4) and out.shape == (2, 4, 3, 10)   # (44 − 32)/4 + 1, (40 − 32)/4 + 1
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            window = big[:, 4 * i:4 * i + 32, 4 * j:4 * j + 32]
            np.testing.assert_allclose(out[:, i, j], run(model, window), atol=1e-5, rtol=0,
                                       err_msg=f"cell ({i}, {j})")


def test_vgg11_same_output_and_every_cell_is_the_head_on_its_window():
    model = kcnn.models.vgg11(input_shape=(32, 32, 3), num_classes=7)
    conv = to_fully_convolutional(model)
    x = random_images((32, 32, 3))
    np.testing.assert_allclose(run(conv, x)[:, 0, 0], run(model, x), atol=1e-5, rtol=0)

    big = random_images((64, 96, 3), seed=1)
    out = run(conv, big)
    assert out.shape == (2, 2, 3, 7)
    # VGG pads with zeros ("same"), so an image window seen inside a larger image differs
    # from the window alone at its borders; the exact claim is on the feature map: each
    # cell is the original head (Flatten → fc1 → fc2 → predictions) on its 1×1 window.
    features = run(keras.Model(conv.inputs[0], conv.get_layer("block5_pool").output), big)
    head = [model.get_layer(n) for n in ("flatten", "fc1", "fc2", "predictions")]
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            y = features[:, i:i + 1, j:j + 1]
            for layer in head:
                y = layer(y)
            np.testing.assert_allclose(out[:, i, j], keras.ops.convert_to_numpy(y),
                                       atol=1e-5, rtol=0, err_msg=f"cell ({i}, {j})")
    # The image-window claim is not exact for VGG: inside the larger image, cell (1, 1)'s
    # window has real pixels around it where the window alone is padded with zeros.
    assert np.abs(out[:, 1, 1] - run(model, big[:, 32:64, 32:64])).max() > 1e-4


def test_receptive_field_and_stride_are_kept():
    model = kcnn.models.lenet5()
    before = summarize(model)[-1]
    after = summarize(to_fully_convolutional(model), input_shape=(32, 32, 1))[-1]
    assert (after["receptive_field"], after["jump"], after["start"]) == (
        before["receptive_field"], before["jump"], before["start"]) == ((32, 32), (4, 4),
                                                                        (15.5, 15.5))


def test_weights_are_copied_not_shared():
    model = kcnn.models.lenet5()
    conv = to_fully_convolutional(model, name="lenet_conv")
    assert conv.name == "lenet_conv"
    assert kcnn.analysis.summarize(conv, input_shape=(32, 32, 1)).totals["params"] == 61_706
    conv.get_layer("c1").kernel.assign(np.zeros((5, 5, 1, 6), "float32"))
    assert np.abs(keras.ops.convert_to_numpy(model.get_layer("c1").kernel)).max() > 0


def test_models_without_a_flatten_dense_head_are_refused():
    with pytest.raises(ValueError, match="GlobalAveragePooling2D 'gap'"):
        to_fully_convolutional(kcnn.models.resnet20())
    inputs = keras.Input((8, 8, 1))
    with pytest.raises(ValueError, match="no Flatten"):
        to_fully_convolutional(keras.Model(inputs, keras.layers.Dense(2)(inputs)))
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(4)(x)
    x = keras.layers.Reshape((2, 2))(x)
    with pytest.raises(ValueError, match="Reshape"):
        to_fully_convolutional(keras.Model(inputs, x))
    with pytest.raises(ValueError, match="functional"):
        to_fully_convolutional(keras.layers.Dense(3))
