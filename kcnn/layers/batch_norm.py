"""BatchNorm: Keras's BatchNormalization with a hand-written training gradient.

Keras 3's BatchNormalization is built of `keras.ops` (moments, then `x * a + b`), and
its training gradient is what automatic differentiation makes of them: for every
layer, a score of element-wise passes and reductions over the whole activation
tensor (in a ResNet-50 training step on CPU they cost about as much as the
convolutions' backward-data pass). The gradient of batch normalization has a closed
form of two reductions and one element-wise expression:

    dβ = Σ dy,   dγ = Σ dy·x̂,   dx = γ/σ · (dy − (dβ + x̂·dγ)/N)

with x̂ = (x − μ)/σ, σ = √(var + ε) and N the number of values per channel. `BatchNorm`
computes its output exactly as BatchNormalization does (the same ops, the same moving
statistics) and uses this gradient in training: the function is the same, and its
gradients equal autodiff's to float rounding.
"""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kcnn")
class BatchNorm(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` whose training gradient is the closed form.

    Same arguments, weights, outputs and moving-statistics updates as
    `BatchNormalization` (it is one: `isinstance` holds, and a file saved with either
    loads the weights of the other). Where the closed form does not apply (a mask,
    `synchronized`, `renorm`, a non-trainable layer, inference) it is
    BatchNormalization's own `call`.

    Example:
    >>> bn = kcnn.layers.BatchNorm(momentum=0.9, epsilon=1e-5)
    >>> bn(keras.ops.ones((2, 4, 4, 8)), training=True).shape
    (2, 4, 4, 8)
    """

    def call(self, inputs, training=None, mask=None):
        if (not (training and self.trainable) or mask is not None or self.synchronized
                or self.renorm or not self.scale or not self.center):
            return super().call(inputs, training=training, mask=mask)
        x = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
        mean, variance = ops.moments(x, axes=self._reduction_axes)
        moving_mean = ops.cast(self.moving_mean, x.dtype)
        moving_variance = ops.cast(self.moving_variance, x.dtype)
        self.moving_mean.assign(moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            moving_variance * self.momentum + variance * (1.0 - self.momentum))
        sizes = [x.shape[a] for a in self._reduction_axes]
        count = None if None in sizes else float(math.prod(sizes))  # None: read at run time
        outputs = _normalize(x, ops.stop_gradient(mean), ops.stop_gradient(variance),
                             ops.cast(self.gamma, x.dtype), ops.cast(self.beta, x.dtype),
                             self.axis, self._reduction_axes, self.epsilon, count)
        return ops.cast(outputs, self.compute_dtype)


def _normalize(x, mean, variance, gamma, beta, axis, reduction_axes, epsilon, count):
    """BatchNormalization's output from the batch moments, with the closed-form gradient
    (with respect to `x`, `gamma` and `beta`; the moments' dependence on `x` is in it)."""
    shape = [1] * len(x.shape)
    shape[axis] = x.shape[axis]

    @ops.custom_gradient
    def normalize(x, mean, variance, gamma, beta):  # the moments: stopped gradients
        y = ops.batch_normalization(x, mean, variance, axis=axis, offset=beta, scale=gamma,
                                    epsilon=epsilon)

        def grad(*args, upstream=None):
            dy = args[0] if upstream is None else upstream
            n = count
            if n is None:  # values per channel of a dynamic shape
                n = ops.cast(ops.size(dy), dy.dtype) / ops.cast(ops.shape(dy)[axis], dy.dtype)
            inv = ops.rsqrt(variance + epsilon)
            centred = x - ops.reshape(mean, shape)
            d_beta = ops.sum(dy, axis=reduction_axes)
            d_gamma = ops.sum(dy * centred, axis=reduction_axes) * inv
            scale = gamma * inv
            dx = (dy * ops.reshape(scale, shape)
                  - centred * ops.reshape(scale * inv * d_gamma / n, shape)
                  - ops.reshape(scale * d_beta / n, shape))
            return dx, ops.zeros_like(mean), ops.zeros_like(variance), d_gamma, d_beta

        return y, grad

    return normalize(x, mean, variance, gamma, beta)
