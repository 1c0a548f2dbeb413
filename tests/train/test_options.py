"""Auxiliary-head loss weighting, aux heads dropped, and the precision / XLA options."""

import keras
import numpy as np
import pytest

from kcnn.data import Preprocessing, load_source, train_batches
from kcnn.models import get_model
from kcnn.train import TrainConfig, fit


def three_heads(*, input_shape, num_classes, **_):
    """A GoogLeNet-shaped toy: outputs predictions, aux1, aux2."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    outputs = [keras.layers.Dense(num_classes, name=n)(x)
               for n in ("predictions", "aux1", "aux2")]
    return keras.Model(inputs, outputs, name="three_heads")


@pytest.fixture(autouse=True)
def _register_toy_model(temporary_model):
    temporary_model(three_heads)


def _log_softmax_ce(logits, labels):
    logits = logits - logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels].mean()


def test_aux_losses_weighted_and_heads_dropped(tmp_path):
    config = TrainConfig(model="three_heads", image_size=[8, 8], channels=1, epochs=1,
                         max_steps_per_epoch=1,
                         global_batch_size=16, aux_loss_weight=0.3, validate=False,
                         verbose=0, output_dir=str(tmp_path), augment="none")
    result = fit(config)
    # Independent recomputation of the first step's loss at the initial weights.
    keras.utils.set_random_seed(config.seed)
    model = get_model("three_heads", input_shape=(8, 8, 1), num_classes=10)
    source = load_source("digits", "train")
    prep = Preprocessing(image_size=(8, 8), channels=1, scale=config.scale,
                         mean=result.preprocessing.mean, std=result.preprocessing.std)
    images, labels = next(iter(train_batches(source, prep, global_batch_size=16,
                                             seed=config.seed, epoch=0)))
    main, aux1, aux2 = (np.asarray(o) for o in model(images))
    labels = labels.numpy()
    expected = (_log_softmax_ce(main, labels)
                + 0.3 * (_log_softmax_ce(aux1, labels) + _log_softmax_ce(aux2, labels)))
    assert result.history[0]["loss"] == pytest.approx(expected, rel=1e-5)
    saved = keras.saving.load_model(tmp_path / "model.keras")
    assert len(saved.outputs) == 1 and saved.output_names == ["predictions"]


@pytest.mark.parametrize("options", [{"mixed_precision": True}, {"xla": True},
                                     {"optimizer": "adamw", "weight_decay": 1e-2,
                                      "label_smoothing": 0.1}])
def test_options_train_and_restore_the_global_policy(options, tmp_path):
    before = keras.config.dtype_policy().name
    result = fit(TrainConfig(epochs=1, max_steps_per_epoch=3, max_eval_steps=1,
                             global_batch_size=8, validate=False, verbose=0,
                             output_dir=str(tmp_path), **options))
    assert np.isfinite(result.history[0]["loss"])
    assert keras.config.dtype_policy().name == before
    if options.get("mixed_precision"):
        assert result.model.get_layer("c1").dtype_policy.compute_dtype in ("float16",
                                                                          "bfloat16")


def test_other_backends_get_a_clear_error():
    import os
    import subprocess
    import sys
    code = ("from kcnn.train import TrainConfig, fit\n"
            "try:\n    fit(TrainConfig())\nexcept ValueError as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, KERAS_BACKEND="jax",
                                                TF_CPP_MIN_LOG_LEVEL="2"))
    assert "needs the TensorFlow Keras backend" in proc.stdout and "'jax'" in proc.stdout
