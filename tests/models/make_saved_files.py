"""Writes tests/models/saved/*.keras: models saved by kcnn as it was, with their outputs.

    python tests/models/make_saved_files.py

`test_saved_files.py` loads them with the current code: a `.keras` file a user saved
before a change to a layer (ConvBlock, ResidualBlock) must still load and give the same
outputs. Never rewrite a stored file after such a change (that would test nothing): the
files stand for what users already have. To cover a new layer or option, add a model
under a new name and run this script, which leaves existing files as they are.
"""

import os
import sys

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TESTS)
sys.path.insert(0, os.path.dirname(TESTS))

import numpy as np  # noqa: E402

from output_references import model_outputs, seed_weights  # noqa: E402

SAVED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "saved")


def blocks_model():
    """Tiny: every ConvBlock padding kind and every ResidualBlock kind, stride and shortcut."""
    import keras

    from kcnn.layers import ConvBlock, ResidualBlock

    inputs = keras.Input((32, 32, 3), name="image")
    x = ConvBlock(8, 7, strides=2, padding=3, batch_norm=True, name="stem")(inputs)  # 16×16
    x = ConvBlock(8, 3, padding=1, batch_norm=True, name="pad1")(x)
    x = ConvBlock(8, 3, padding="same", name="same")(x)
    x = ResidualBlock(8, strides=2, shortcut="zero_pad", name="basic_s2")(x)        # 8×8
    x = ResidualBlock(16, strides=1, shortcut="projection", name="basic_proj")(x)
    x = ResidualBlock(4, kind="bottleneck", strides=2, name="bottleneck_v15")(x)     # 4×4
    x = ResidualBlock(4, kind="bottleneck", strides=2, stride_in_1x1=True,
                      name="bottleneck_v1")(x)                                      # 2×2
    x = ResidualBlock(4, kind="bottleneck", name="bottleneck_identity")(x)
    x = ResidualBlock(16, strides=2, shortcut=False, name="plain_s2")(x)            # 1×1
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(5, name="logits")(x)
    return keras.Model(inputs, outputs, name="blocks")


# A registered model's file (resnet20: 1.3 MB of weights) would add no layer this one lacks.
MODELS = {"blocks": blocks_model}


def main():
    import keras

    os.makedirs(SAVED, exist_ok=True)
    for name, build in MODELS.items():
        path = os.path.join(SAVED, f"{name}.keras")
        if os.path.exists(path):
            print(f"{path} exists: left as it is")
            continue
        keras.backend.clear_session(free_memory=False)
        model = build()
        seed_weights(model)
        outputs = model_outputs(model)
        model.save(path)
        np.save(os.path.join(SAVED, f"{name}.outputs.npy"), np.asarray(outputs[0]))
        print(f"wrote {path} ({os.path.getsize(path)} bytes), outputs {outputs[0].shape}")


if __name__ == "__main__":
    main()
