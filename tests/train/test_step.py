"""make_train_step, the step `fit` runs (and the benchmarks time), against NumPy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kcnn.train import TrainConfig, make_train_step


def _linear(activation=None):
    """Dense(4); the Reshape hides a softmax from Keras's own logits recovery (it looks at
    the loss input's op only), so a wrong `from_logits` would show in the loss."""
    inputs = keras.Input((3,))
    x = keras.layers.Dense(4, activation=activation, name="dense")(inputs)
    return keras.Model(inputs, keras.layers.Reshape((4,), name="predictions")(x))


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("activation", [None, "softmax"])
def test_one_step_equals_numpy(activation):
    """Loss, hits and the SGD update of a linear model, from the formulas; the loss is
    on logits or on probabilities as the model's own output says."""
    keras.utils.set_random_seed(1)
    model = _linear(activation)
    optimizer = keras.optimizers.SGD(0.5)
    optimizer.build(model.trainable_variables)
    w, b = (v.numpy().astype(np.float64) for v in model.trainable_variables)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 0, 1])
    wd = 0.01
    step = make_train_step(model, optimizer, TrainConfig(global_batch_size=6,
                                                         weight_decay=wd))
    loss, correct = step(tf.constant(x), tf.constant(y, tf.int32))

    z = x @ w + b
    p = _softmax(z)
    # The model's output is taken as probabilities (softmax: Keras clips them to
    # [1e-7, 1 - 1e-7]) or as logits; a wrong guess would apply softmax twice.
    q = np.clip(p, 1e-7, 1 - 1e-7) if activation == "softmax" else p
    ce = -np.log(q[np.arange(6), y]).mean()
    expected_loss = ce + 0.5 * wd * (w ** 2).sum()  # coupled L2 on the kernel only
    np.testing.assert_allclose(float(loss), expected_loss, rtol=1e-5)
    assert float(correct) == float((z.argmax(1) == y).sum())
    if activation is None:  # d(ce)/dz = (softmax(z) - onehot) / batch
        dz = (p - np.eye(4)[y]) / 6
        w_new = w - 0.5 * (x.T @ dz + wd * w)
        b_new = b - 0.5 * dz.sum(0)
        np.testing.assert_allclose(model.trainable_variables[0].numpy(), w_new, rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(model.trainable_variables[1].numpy(), b_new, rtol=1e-5,
                                   atol=1e-6)
