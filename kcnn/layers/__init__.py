"""Reusable Keras layers of the classic CNN lineage (Keras 3 API only)."""

from kcnn.layers.conv_block import ConvBlock
