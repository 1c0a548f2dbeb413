"""fold_batch_norm: the folded model equals the original in inference mode, without BN."""

import keras
import numpy as np
import pytest

import kcnn
from export.export_helpers import max_served_difference
from kcnn.export import export_saved_model
from kcnn.export.fold import FoldedBatchNorm, fold_batch_norm

ATOL = 1e-5


def batch_norms(model):
    return [layer for layer in model._flatten_layers()
            if isinstance(layer, keras.layers.BatchNormalization)]


def randomize_batch_norms(model, seed=0):
    """Non-trivial moving statistics and affine parameters (fresh ones are the identity)."""
    rng = np.random.default_rng(seed)
    for bn in batch_norms(model):
        n = bn.moving_mean.shape[0]
        bn.moving_mean.assign(rng.normal(0.0, 0.05, n))
        bn.moving_variance.assign(rng.uniform(0.8, 1.5, n))
        if bn.scale:
            bn.gamma.assign(rng.uniform(0.3, 0.8, n))
        if bn.center:
            bn.beta.assign(rng.normal(0.0, 0.05, n))
    return model


def assert_folds(model, input_shape, batch=3):
    randomize_batch_norms(model)
    x = np.random.default_rng(1).standard_normal((batch, *input_shape)).astype("float32")
    expected = np.asarray(model(x, training=False))
    folded = fold_batch_norm(model)
    assert folded is not model
    assert batch_norms(folded) == []
    assert batch_norms(model), "the original model keeps its BatchNorm layers"
    assert [layer.name for layer in folded.layers] == [layer.name for layer in model.layers]
    got = np.asarray(folded(x, training=False))
    assert np.abs(expected).max() > 0.01  # a meaningful comparison, not two zeros
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)
    np.testing.assert_array_equal(np.asarray(model(x, training=False)), expected)
    return folded


@pytest.mark.parametrize("name, kwargs, input_shape", [
    ("resnet20", {}, (32, 32, 3)),
    ("resnet20", {"shortcut": "projection"}, (32, 32, 3)),
    ("googlenet", {"form": "torchvision", "input_shape": (64, 64, 3),
                   "num_classes": 10}, (64, 64, 3)),
    ("vgg11_bn", {"input_shape": (32, 32, 3), "include_top": False, "pooling": "avg"},
     (32, 32, 3)),
])
def test_conv_blocks_fold(name, kwargs, input_shape):
    model = kcnn.models.get_model(name, **kwargs)
    folded = assert_folds(model, input_shape)
    blocks = [b for b in model._flatten_layers() if isinstance(b, kcnn.layers.ConvBlock)
              and b.bn is not None]
    assert blocks
    # Each BN's 4 vectors of C channels go; a convolution without a bias gains one of C.
    removed = sum(4 * b.filters - (0 if b.conv.use_bias else b.filters) for b in blocks)
    count = lambda m: sum(int(np.prod(w.shape)) for w in m.weights)  # noqa: E731
    assert count(folded) == count(model) - removed


def test_graph_conv_batch_norm_pairs():
    """Conv2D → BN pairs of a functional graph fold; other BNs are left as they are."""
    inputs = keras.Input((16, 16, 3))
    a = keras.layers.Conv2D(8, 3, padding="same", name="a")(inputs)           # bias + BN
    a = keras.layers.BatchNormalization(name="a_bn")(a)
    b = keras.layers.Conv2D(8, 3, use_bias=False, name="b")(a)                # no bias + BN
    b = keras.layers.BatchNormalization(scale=False, name="b_bn")(b)
    c = keras.layers.Conv2D(8, 1, activation="relu", name="c")(b)             # activation
    c = keras.layers.BatchNormalization(name="c_bn")(c)
    d = keras.layers.Conv2D(8, 1, name="d")(c)                                # used twice
    e = keras.layers.BatchNormalization(name="d_bn")(d)
    out = keras.layers.GlobalAveragePooling2D()(keras.layers.Add()([d, e]))
    model = keras.Model(inputs, out)
    randomize_batch_norms(model)
    x = np.random.default_rng(2).standard_normal((4, 16, 16, 3)).astype("float32")
    expected = np.asarray(model(x, training=False))
    folded = fold_batch_norm(model)
    kinds = {layer.name: type(layer) for layer in folded.layers}
    assert kinds["a_bn"] is FoldedBatchNorm and kinds["b_bn"] is FoldedBatchNorm
    assert kinds["c_bn"] is keras.layers.BatchNormalization  # after a ReLU: not foldable
    assert kinds["d_bn"] is keras.layers.BatchNormalization  # d's output is also used raw
    assert folded.get_layer("b").use_bias
    np.testing.assert_allclose(np.asarray(folded(x, training=False)), expected, atol=ATOL)


def test_fold_matches_numpy_reference():
    """One ConvBlock against the formula computed here in NumPy (1×1 conv = matmul)."""
    block = kcnn.layers.ConvBlock(4, 1, batch_norm=True, activation=None)
    inputs = keras.Input((5, 5, 3))
    model = keras.Model(inputs, block(inputs))
    randomize_batch_norms(model, seed=3)
    folded = fold_batch_norm(model)
    kernel = np.asarray(block.conv.kernel)[0, 0]           # (3, 4)
    bn = block.bn
    scale = np.asarray(bn.gamma) / np.sqrt(np.asarray(bn.moving_variance) + bn.epsilon)
    new_block = folded.layers[1]
    np.testing.assert_allclose(np.asarray(new_block.conv.kernel)[0, 0], kernel * scale,
                               rtol=1e-6)
    np.testing.assert_allclose(np.asarray(new_block.conv.bias),
                               np.asarray(bn.beta) - np.asarray(bn.moving_mean) * scale,
                               rtol=1e-6, atol=1e-7)
    assert new_block.get_config()["batch_norm"] is False


def test_model_without_batch_norm_is_an_equal_copy():
    model = kcnn.models.lenet5()
    folded = fold_batch_norm(model)
    x = np.random.default_rng(4).standard_normal((2, 32, 32, 1)).astype("float32")
    assert folded is not model
    np.testing.assert_array_equal(np.asarray(folded(x)), np.asarray(model(x)))


def test_folded_model_exports(tmp_path):
    model = randomize_batch_norms(kcnn.models.resnet20())
    folded = fold_batch_norm(model)
    result = export_saved_model(folded, tmp_path / "serving", warmup=False)
    assert max_served_difference(result.path, model, (32, 32), seed=1) < 1e-5


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)


def test_bad_input():
    with pytest.raises(ValueError, match="expects a keras.Model"):
        fold_batch_norm("resnet20")
    with pytest.raises(ValueError, match="not built"):
        fold_batch_norm(keras.Sequential([keras.layers.Dense(2)]))
    subclassed = _Subclassed()
    subclassed(np.zeros((1, 3), "float32"))
    with pytest.raises(ValueError, match="functional or Sequential"):
        fold_batch_norm(subclassed)
