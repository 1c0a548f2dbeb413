"""InceptionBlock: GoogLeNet's module of four parallel branches (Szegedy et al., 2015)."""

import keras

from kcnn.layers.conv_block import BN_EPSILON, ConvBlock


@keras.saving.register_keras_serializable(package="kcnn")
class InceptionBlock(keras.layers.Layer):
    """Inception module: four parallel branches concatenated on channels.

    Branches: (1) 1×1 convolution; (2) 1×1 reduction → 3×3; (3) 1×1 reduction →
    k×k with k = `branch3_kernel_size` (5 in the paper; torchvision uses 3);
    (4) 3×3 max pool (stride 1) → 1×1 projection. Every convolution is followed by
    ReLU (and BatchNorm first when `batch_norm=True`). The 1×1 reductions are what
    keep the 3×3 and k×k branches affordable.

    Args:
        filters_1x1: int. Filters of the 1×1 branch.
        filters_3x3_reduce: int. Filters of the 1×1 reduction before the 3×3.
        filters_3x3: int. Filters of the 3×3 convolution.
        filters_5x5_reduce: int. Filters of the 1×1 reduction before the k×k.
        filters_5x5: int. Filters of the k×k convolution.
        filters_pool_proj: int. Filters of the 1×1 projection after the pool.
        branch3_kernel_size: int. k, the kernel of the third branch. Defaults to 5.
        batch_norm: bool. BatchNorm after every convolution, convolutions without
            bias. Defaults to `False` (the paper).
        bn_epsilon: float. The BatchNorm epsilon. Defaults to 1e-5 (torchvision's
            GoogLeNet: 1e-3).

    Example:
    >>> block = kcnn.layers.InceptionBlock(64, 96, 128, 16, 32, 32)  # inception (3a)
    >>> block(keras.ops.zeros((1, 28, 28, 192))).shape
    (1, 28, 28, 256)
    """

    def __init__(self, filters_1x1, filters_3x3_reduce, filters_3x3, filters_5x5_reduce,
                 filters_5x5, filters_pool_proj, branch3_kernel_size=5, batch_norm=False,
                 bn_epsilon=BN_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.filters_1x1 = filters_1x1
        self.filters_3x3_reduce = filters_3x3_reduce
        self.filters_3x3 = filters_3x3
        self.filters_5x5_reduce = filters_5x5_reduce
        self.filters_5x5 = filters_5x5
        self.filters_pool_proj = filters_pool_proj
        self.branch3_kernel_size = branch3_kernel_size
        self.batch_norm = batch_norm
        self.bn_epsilon = bn_epsilon

        def conv(filters, kernel_size, name):
            return ConvBlock(filters, kernel_size, batch_norm=batch_norm,
                             bn_epsilon=bn_epsilon, name=name)

        self.branch1 = conv(filters_1x1, 1, "branch1_1x1")
        self.branch2_reduce = conv(filters_3x3_reduce, 1, "branch2_reduce")
        self.branch2 = conv(filters_3x3, 3, "branch2_3x3")
        self.branch3_reduce = conv(filters_5x5_reduce, 1, "branch3_reduce")
        self.branch3 = conv(filters_5x5, branch3_kernel_size, "branch3_kxk")
        self.branch4_pool = keras.layers.MaxPooling2D(3, strides=1, padding="same",
                                                      name="branch4_pool")
        self.branch4 = conv(filters_pool_proj, 1, "branch4_proj")
        self.concat = keras.layers.Concatenate(axis=-1, name="concat")

    @property
    def output_channels(self):
        return self.filters_1x1 + self.filters_3x3 + self.filters_5x5 + self.filters_pool_proj

    def build(self, input_shape):
        self.branch1.build(input_shape)
        self.branch2_reduce.build(input_shape)
        self.branch2.build(self.branch2_reduce.compute_output_shape(input_shape))
        self.branch3_reduce.build(input_shape)
        self.branch3.build(self.branch3_reduce.compute_output_shape(input_shape))
        self.branch4.build(input_shape)

    def call(self, inputs, training=None):
        return self.concat([
            self.branch1(inputs, training=training),
            self.branch2(self.branch2_reduce(inputs, training=training), training=training),
            self.branch3(self.branch3_reduce(inputs, training=training), training=training),
            self.branch4(self.branch4_pool(inputs), training=training),
        ])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_channels,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters_1x1": self.filters_1x1,
            "filters_3x3_reduce": self.filters_3x3_reduce,
            "filters_3x3": self.filters_3x3,
            "filters_5x5_reduce": self.filters_5x5_reduce,
            "filters_5x5": self.filters_5x5,
            "filters_pool_proj": self.filters_pool_proj,
            "branch3_kernel_size": self.branch3_kernel_size,
            "batch_norm": self.batch_norm,
            "bn_epsilon": self.bn_epsilon,
        })
        return config
