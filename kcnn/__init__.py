"""kcnn: the classic convolutional networks as exact, tested Keras 3 models."""

from kcnn import layers, models

__version__ = "0.1.0"
