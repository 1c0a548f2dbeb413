"""Reusable Keras layers of the classic CNN lineage (Keras 3 API only)."""

from kcnn.layers.auxiliary import AuxiliaryClassifier
from kcnn.layers.conv_block import ConvBlock
from kcnn.layers.inception import InceptionBlock
from kcnn.layers.lrn import LocalResponseNormalization
from kcnn.layers.nin import NiNBlock
from kcnn.layers.residual import ResidualBlock
