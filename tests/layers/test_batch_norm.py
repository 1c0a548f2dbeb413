"""kcnn.layers.BatchNorm is Keras's BatchNormalization with the closed-form training gradient:
the same outputs and moving statistics (bit for bit), and autodiff's gradients to rounding."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kcnn.layers import BatchNorm


def _pair(shape, policy=None):
    """(Keras's layer, kcnn's) built on `shape` with the same non-trivial weights."""
    rng = np.random.default_rng(0)
    layers = [cls(momentum=0.9, epsilon=1e-5, dtype=policy)
              for cls in (keras.layers.BatchNormalization, BatchNorm)]
    values = [rng.uniform(0.5, 1.5, shape[-1]), rng.normal(0, 0.3, shape[-1]),
              rng.normal(0, 0.3, shape[-1]), rng.uniform(0.5, 1.5, shape[-1])]
    for layer in layers:
        layer.build(shape)
        layer.set_weights([v.astype("float32") for v in values])
    return layers


def _step(layer, x, weights):
    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) * weights)
        return y, tape.gradient(loss, [x, layer.gamma, layer.beta])
    y, grads = step(x)
    return (np.asarray(y, dtype="float32"), [g.numpy() for g in grads],
            [layer.moving_mean.numpy(), layer.moving_variance.numpy()])


@pytest.mark.parametrize("policy", [None, "mixed_bfloat16"])
def test_same_function_and_gradients_as_keras(policy):
    shape = (4, 6, 6, 5)
    rng = np.random.default_rng(1)
    x = tf.constant((3 * rng.standard_normal(shape) + 1).astype("float32"))
    weights = tf.constant(rng.standard_normal(shape).astype("float32"))
    (y0, g0, s0), (y1, g1, s1) = (_step(layer, x, weights) for layer in _pair(shape, policy))
    np.testing.assert_array_equal(y1, y0)            # the same ops: the same output
    for a, b in zip(s1, s0):
        np.testing.assert_array_equal(a, b)          # the same moving statistics
    for name, a, b in zip(("x", "gamma", "beta"), g1, g0):
        scale = np.abs(b).max()
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * scale, err_msg=name)
    keras_bn, kcnn_bn = _pair(shape, policy)
    np.testing.assert_array_equal(np.asarray(kcnn_bn(x, training=False), "float32"),
                                  np.asarray(keras_bn(x, training=False), "float32"))


def _gradient(model, x, weights):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = model(x, training=True)
        loss = tf.reduce_sum(y * weights)
    return y, tape.gradient(loss, x)


def test_unknown_batch_size():
    """A functional model with a dynamic batch: the count per channel is read at run time."""
    inputs = keras.Input((3, 3, 2))
    layer = BatchNorm()
    model = keras.Model(inputs, layer(inputs, training=True))
    x = tf.constant(np.random.default_rng(2).standard_normal((5, 3, 3, 2)).astype("float32"))
    weights = tf.constant(np.random.default_rng(3).standard_normal(x.shape).astype("float32"))
    step = tf.function(lambda x: _gradient(model, x, weights),
                       input_signature=[tf.TensorSpec((None, 3, 3, 2))])
    y, grad = step(x)
    with tf.GradientTape() as tape:  # autodiff of Keras's BatchNormalization, same weights
        tape.watch(x)
        keras_bn = keras.layers.BatchNormalization()
        loss = tf.reduce_sum(keras_bn(x, training=True) * weights)
    np.testing.assert_allclose(grad, tape.gradient(loss, x), rtol=0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(y).reshape(-1, 2).mean(0), 0.0, atol=1e-5)
