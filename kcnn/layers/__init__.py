"""Reusable Keras layers of the classic CNN lineage (Keras 3 API only)."""

from kcnn.layers.affine import ChannelAffine
from kcnn.layers.auxiliary import AuxiliaryClassifier
from kcnn.layers.batch_norm import BatchNorm
from kcnn.layers.conv_block import ConvBlock
from kcnn.layers.inception import InceptionBlock
from kcnn.layers.locally_connected import LocallyConnected2D
from kcnn.layers.lrn import LocalResponseNormalization
from kcnn.layers.nin import NiNBlock
from kcnn.layers.residual import ResidualBlock
from kcnn.layers.upsampling import BilinearUpsampling, bilinear_kernel_size, bilinear_upsampler
