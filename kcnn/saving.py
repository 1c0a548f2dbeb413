"""`load_model`: a `.keras` file with kcnn's layers, without importing them by hand.

Keras finds a saved model's custom layers only once their classes are registered, which
happens when their module is imported; `import kcnn` imports nothing (it is lazy), so
`keras.saving.load_model` after a bare `import kcnn` would not know `ConvBlock`.
`kcnn.load_model` registers every kcnn class a saved model can hold, then loads.
"""

import importlib



def load_model(filepath, *, compile=False, safe_mode=True):
    """Loads a `.keras` file saved from a kcnn model (a training run's `model.keras`).

    Args:
        filepath: str or path. The `.keras` file.
        compile: bool. Restore the training configuration too. Defaults to `False`.
        safe_mode: bool. Refuse to deserialize code (Lambda layers). Defaults to `True`.

    Returns:
        A `keras.Model`.

    Example:
    >>> model = kcnn.load_model("runs/quickstart/model.keras")
    """
    import keras

    importlib.import_module("kcnn.layers")  # registers kcnn's layers and initializers
    if compile:  # an optimizer saved with its learning-rate schedule (kcnn.train: TensorFlow)
        importlib.import_module("kcnn.train.schedules")
    return keras.saving.load_model(filepath, compile=compile, safe_mode=safe_mode)
