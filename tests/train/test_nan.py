"""An injected NaN stops training with a clear message; the last good checkpoint loads."""

import os

import keras
import numpy as np
import pytest
from keras import ops

from kcnn.models import get_model
from kcnn.train import TrainConfig, TrainingDiverged, fit
from kcnn.train.recipe import run
from kcnn.train.checkpoint import CheckpointManager, load_weights_into, read_state

NAN_AT = 5


class NaNAtStep(keras.layers.Layer):
    """Adds NaN to its input from the `at`-th training call on (counts calls in a weight)."""

    def __init__(self, at, **kwargs):
        super().__init__(**kwargs)
        self.at = at

    def build(self, input_shape):
        self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                     name="calls")

    def call(self, x, training=False):
        if not training:
            return x
        self.calls.assign_add(1.0)
        return x + ops.where(self.calls >= self.at, float("nan"), 0.0)


def nan_at_step5(*, input_shape, num_classes, **_):
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(16, activation="relu")(x)
    x = NaNAtStep(NAN_AT, name="inject")(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, name="predictions")(x))


@pytest.fixture(autouse=True)
def _register_toy_model(temporary_model):
    temporary_model(nan_at_step5)


def _config(output):
    return TrainConfig(model="nan_at_step5", image_size=[8, 8], channels=1, epochs=1,
                       global_batch_size=16, checkpoint_every=2, verbose=0,
                       output_dir=str(output))


def test_nan_stops_training_and_last_good_checkpoint_loads(tmp_path):
    with pytest.raises(TrainingDiverged) as info:
        fit(_config(tmp_path))
    message = str(info.value)
    print(message)
    assert "loss is nan" in message and f"global step {NAN_AT}" in message
    assert "step-000000004" in message
    manager = CheckpointManager(str(tmp_path / "checkpoints"), None)
    latest = manager.latest()
    assert os.path.basename(latest) == "step-000000004" and read_state(latest)["step"] == 4
    assert not (tmp_path / "model.keras").exists()  # no model written from NaN weights
    model = get_model("nan_at_step5", input_shape=(8, 8, 1), num_classes=10)
    load_weights_into(model, latest)
    assert all(np.isfinite(v.numpy()).all() for v in model.variables)
    assert float(model.get_layer("inject").calls.numpy()) == 4.0  # the step-4 state


def test_cli_reports_divergence_with_exit_status_1(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        run(_config(tmp_path))
    assert info.value.code == 1
    assert "kcnn train: Training stopped: the loss is nan" in capsys.readouterr().err
