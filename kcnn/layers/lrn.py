"""Local response normalization across channels (Krizhevsky et al., 2012)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kcnn")
class LocalResponseNormalization(keras.layers.Layer):
    """Local response normalization across channels, as in AlexNet and GoogLeNet.

    `b[c] = a[c] / (k + alpha * sum(a[j]**2 for j in the size channels centred on c)) ** beta`,
    the formula of Krizhevsky et al. (2012) §3.3, whose constants are the defaults.
    Caffe and PyTorch divide `alpha` by `size`; to reproduce them pass `alpha / size`.
    Keras 3 has no such layer. Channels-last only.

    Args:
        size: int. Number of adjacent channels summed (the paper's n). Defaults to 5.
        alpha: float. Scale of the sum. Defaults to 1e-4.
        beta: float. Exponent. Defaults to 0.75.
        k: float. Additive constant. Defaults to 2.0.

    Example:
    >>> lrn = kcnn.layers.LocalResponseNormalization()
    >>> lrn(keras.ops.ones((1, 4, 4, 8))).shape
    (1, 4, 4, 8)
    """

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f"`size` must be an int >= 1; got size={size!r}.")
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def call(self, inputs):
        channels = inputs.shape[-1]
        squared = ops.square(inputs)
        before, after = (self.size - 1) // 2, self.size // 2
        padded = ops.pad(squared, [[0, 0]] * (len(inputs.shape) - 1) + [[before, after]])
        window_sum = padded[..., 0:channels]
        for offset in range(1, self.size):
            window_sum = window_sum + padded[..., offset:offset + channels]
        return inputs / ops.power(self.k + self.alpha * window_sum, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "alpha": self.alpha, "beta": self.beta, "k": self.k})
        return config
