"""The error of the weights readers."""


class WeightsFileError(ValueError):
    """A weights file that kcnn refuses or cannot read; the message names the file."""
