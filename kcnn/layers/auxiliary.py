"""AuxiliaryClassifier: GoogLeNet's side head (Szegedy et al., 2015, §5)."""

import keras

from kcnn.layers.conv_block import BN_EPSILON, ConvBlock


@keras.saving.register_keras_serializable(package="kcnn")
class AuxiliaryClassifier(keras.layers.Layer):
    """GoogLeNet's auxiliary classifier, used in training only.

    5×5 average pool with stride 3 (valid) → 1×1 convolution with 128 filters + ReLU
    → flatten → dense 1024 + ReLU → dropout 0.7 → dense `num_classes`. On the 14×14
    maps after inception (4a) and (4d) the pool gives 4×4, so the flattened size is 2048.
    torchvision pools adaptively to 4×4 instead (`adaptive_pool=4`), whose windows differ
    from the 5×5/3 pool's (4×4 windows at 0, 3, 7, 10 on 14×14 maps).

    Args:
        num_classes: int. Number of classes.
        batch_norm: bool. BatchNorm after the 1×1 convolution, convolution without bias
            (torchvision). Defaults to `False` (the paper).
        dropout: float. Dropout rate before the last layer. Defaults to 0.7.
        classifier_activation: activation of the last layer; `None` gives logits.
        adaptive_pool: None or int. An adaptive average pool to this output size
            instead of the 5×5/3 pool (torchvision: 4). Defaults to `None`.
        bn_epsilon: float. The BatchNorm epsilon. Defaults to 1e-5 (torchvision's
            GoogLeNet: 1e-3).

    Example:
    >>> head = kcnn.layers.AuxiliaryClassifier(1000)
    >>> head(keras.ops.zeros((1, 14, 14, 512))).shape
    (1, 1000)
    """

    def __init__(self, num_classes, batch_norm=False, dropout=0.7, classifier_activation=None,
                 adaptive_pool=None, bn_epsilon=BN_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.batch_norm = batch_norm
        self.dropout = dropout
        self.classifier_activation = classifier_activation
        self.adaptive_pool = adaptive_pool
        self.bn_epsilon = bn_epsilon
        if adaptive_pool is not None and not hasattr(keras.layers, "AdaptiveAveragePooling2D"):
            raise ValueError(
                "AuxiliaryClassifier: `adaptive_pool` needs keras.layers."
                f"AdaptiveAveragePooling2D, which Keras {keras.__version__} lacks; "
                "upgrade Keras.")
        self.pool = (keras.layers.AveragePooling2D(5, strides=3, name="pool")
                     if adaptive_pool is None else
                     keras.layers.AdaptiveAveragePooling2D(adaptive_pool, name="pool"))
        self.conv = ConvBlock(128, 1, batch_norm=batch_norm, bn_epsilon=bn_epsilon,
                              name="conv")
        self.flatten = keras.layers.Flatten(name="flatten")
        self.fc1 = keras.layers.Dense(1024, activation="relu", name="fc1")
        self.drop = keras.layers.Dropout(dropout, name="dropout")
        self.fc2 = keras.layers.Dense(num_classes, activation=classifier_activation, name="fc2")

    def build(self, input_shape):
        if self.adaptive_pool is None and input_shape[1] is not None and (
                input_shape[1] < 5 or input_shape[2] < 5):
            raise ValueError(
                f"AuxiliaryClassifier {self.name!r} needs feature maps of at least 5×5 for "
                f"its 5×5 pool; got input shape {tuple(input_shape)}.")
        shape = self.pool.compute_output_shape(input_shape)
        self.conv.build(shape)
        shape = self.flatten.compute_output_shape(self.conv.compute_output_shape(shape))
        self.fc1.build(shape)
        self.fc2.build((shape[0], 1024))

    def call(self, inputs, training=None):
        x = self.conv(self.pool(inputs), training=training)
        x = self.fc1(self.flatten(x))
        return self.fc2(self.drop(x, training=training))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_classes": self.num_classes,
            "batch_norm": self.batch_norm,
            "dropout": self.dropout,
            "classifier_activation": self.classifier_activation,
            "adaptive_pool": self.adaptive_pool,
            "bn_epsilon": self.bn_epsilon,
        })
        return config
