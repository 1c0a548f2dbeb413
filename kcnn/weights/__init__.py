"""Pretrained weights for kcnn models: readers, converters, catalogue."""
