"""`load_model`: a `.keras` file with kcnn's layers, without importing them by hand.

Keras finds a saved model's custom layers only once their classes are registered, which
happens when their module is imported; `import kcnn` imports nothing (it is lazy), so
`keras.saving.load_model` after a bare `import kcnn` would not know `ConvBlock`.
`kcnn.load_model` registers every kcnn class a saved model can hold, then loads.
"""

import importlib
import os
import zipfile


def load_model(filepath, *, compile=False, safe_mode=True):
    """Loads a `.keras` file saved from a kcnn model (a training run's `model.keras`).

    Args:
        filepath: str or path. The `.keras` file.
        compile: bool. Restore the training configuration too. Defaults to `False`.
        safe_mode: bool. Refuse to deserialize code (Lambda layers). Defaults to `True`.

    Returns:
        A `keras.Model`.

    Raises:
        FileNotFoundError: if `filepath` does not exist.
        ValueError: if it is not a `.keras` zip archive (a truncated or text file) or its
            contents cannot be read; the message names the file.

    Example:
    >>> model = kcnn.load_model("runs/quickstart/model.keras")
    """
    import keras

    importlib.import_module("kcnn.layers")  # registers kcnn's layers and initializers
    if compile:  # an optimizer saved with its learning-rate schedule (kcnn.train: TensorFlow)
        importlib.import_module("kcnn.train.schedules")
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):  # Keras says "File not found" for bad files too
        raise FileNotFoundError(f"Model file {filepath!r} does not exist.")
    if filepath.endswith(".keras"):
        if not zipfile.is_zipfile(filepath):
            raise ValueError(f"Model file {filepath!r} is not a .keras zip archive "
                             f"({os.path.getsize(filepath)} bytes): truncated, or not a "
                             "saved model.")
        try:
            with zipfile.ZipFile(filepath) as archive:
                bad = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise ValueError(f"Model file {filepath!r} is a damaged .keras archive: {e}") from e
        if bad is not None:
            raise ValueError(f"Model file {filepath!r} is a damaged .keras archive: {bad!r} "
                             "fails its CRC check.")
    return keras.saving.load_model(filepath, compile=compile, safe_mode=safe_mode)
