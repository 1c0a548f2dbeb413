"""TrainConfig checks, overrides and renamed fields; the papers' learning-rate schedules."""

import dataclasses
import inspect
import json

import numpy as np
import pytest

from kcnn.train import PaperSchedule, RenamedFieldWarning, TrainConfig
from kcnn.train.config import RESUME_MAY_CHANGE
from kcnn.train.schedules import FIELDS as SCHEDULE_FIELDS


def test_defaults_are_the_quickstart_and_round_trip(tmp_path):
    config = TrainConfig()
    assert (config.model, config.dataset, config.output_dir) == ("lenet5", "digits",
                                                                  "runs/quickstart")
    path = config.save(str(tmp_path))
    assert TrainConfig.load(path) == config
    assert json.loads(open(path).read())["global_batch_size"] == 32
    from kcnn.data import MAX_PIXELS  # the decoder's bound, written in config.py without TF
    assert config.max_pixels == MAX_PIXELS


@pytest.mark.parametrize("field, value, expected", [
    ("epochs", 0, "`epochs` must be an int >= 1"),
    ("lr", float("nan"), "`lr` must be a number"),
    ("optimizer", "lamb", "`optimizer` must be one of"),
    ("strategy", "tpu", "`strategy` must be one of"),
    ("augment", "mixup", "`augment` must be one of"),
    ("image_size", [32], "`image_size` must be 2 positive ints"),
    ("label_smoothing", 1.0, "`label_smoothing` must be a number in"),
    ("lr_boundaries", [60, 30], "`lr_boundaries` must be increasing"),
    ("std", [0.0], "`std` must be positive"),
    ("xla", "yes", "`xla` must be True or False"),
    ("max_pixels", 0, "`max_pixels` must be an int >= 1"),
])
def test_bad_values_name_the_field(field, value, expected):
    with pytest.raises(ValueError, match=expected):
        TrainConfig(**{field: value})


def test_schedule_needs_its_settings():
    with pytest.raises(ValueError, match="`lr_boundaries` must be non-empty"):
        TrainConfig(lr_schedule="piecewise")
    with pytest.raises(ValueError, match="`lr_decay_epochs` must be > 0"):
        TrainConfig(lr_schedule="step")


def test_override_parses_json_and_rejects_unknown_fields():
    config = TrainConfig().override(["lr=1", "model_kwargs={\"batch_norm\": true}",
                                     "image_size=[64, 64]", "dataset=cifar10",
                                     "mean=null"])
    assert config.lr == 1.0 and isinstance(config.lr, float)
    assert config.model_kwargs == {"batch_norm": True} and config.image_size == [64, 64]
    assert config.dataset == "cifar10" and config.mean is None
    with pytest.raises(ValueError, match="FIELD=VALUE"):
        TrainConfig().override(["learning_rate=0.1"])
    with pytest.raises(ValueError, match=r"Unknown TrainConfig field\(s\) \['lrate'\]"):
        TrainConfig.from_dict({"lrate": 0.1})


def _values(schedule, steps):
    return np.array([float(schedule(s)) for s in steps])


def test_piecewise_resnet_cifar():
    # He et al.: 0.1, ÷10 at 32k and 48k iterations (boundaries given in epochs here).
    schedule = PaperSchedule(0.1, "piecewise", steps_per_epoch=100, total_steps=64_000,
                             lr_boundaries=[320, 480])
    np.testing.assert_allclose(_values(schedule, [0, 31_999, 32_000, 47_999, 48_000, 63_999]),
                               [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-6)


def test_constant_warmup_resnet110():
    schedule = PaperSchedule(0.1, "piecewise", steps_per_epoch=100, total_steps=64_000,
                             lr_boundaries=[320], warmup_epochs=4, warmup="constant",
                             warmup_lr=0.01)
    np.testing.assert_allclose(_values(schedule, [0, 399, 400]), [0.01, 0.01, 0.1], rtol=1e-6)


def test_step_googlenet_and_cosine_with_linear_warmup():
    step = PaperSchedule(0.01, "step", steps_per_epoch=10, total_steps=1000, lr_decay=0.96,
                         lr_decay_epochs=8)
    np.testing.assert_allclose(_values(step, [0, 79, 80, 160]),
                               [0.01, 0.01, 0.0096, 0.01 * 0.96 ** 2], rtol=1e-6)
    cosine = PaperSchedule(1.0, "cosine", steps_per_epoch=10, total_steps=110,
                           warmup_epochs=1, warmup="linear", warmup_lr=0.0)
    np.testing.assert_allclose(_values(cosine, [0, 5, 10, 60, 110]),
                               [0.0, 0.5, 1.0, 0.5, 0.0], atol=1e-6)


def test_old_field_names_are_read_with_a_deprecation_warning(tmp_path):
    # A config.json of an earlier version: the caps had the data pipeline's names.
    old = {**TrainConfig().to_dict(), "steps_per_epoch": 2, "eval_steps": 1}
    del old["max_steps_per_epoch"], old["max_eval_steps"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(old))
    with pytest.warns(RenamedFieldWarning) as record:
        config = TrainConfig.load(str(path))
    assert (config.max_steps_per_epoch, config.max_eval_steps) == (2, 1)
    assert [str(w.message).split(";")[0] for w in record] == [
        f"config file {str(path)!r}: `steps_per_epoch` is now `max_steps_per_epoch`",
        f"config file {str(path)!r}: `eval_steps` is now `max_eval_steps`"]
    assert issubclass(RenamedFieldWarning, DeprecationWarning)
    with pytest.warns(RenamedFieldWarning, match=r"`--set steps_per_epoch=3`: "
                                                 r"`steps_per_epoch` is now"):
        assert TrainConfig().override(["steps_per_epoch=3"]).max_steps_per_epoch == 3
    with pytest.warns(RenamedFieldWarning, match=r"TrainConfig\(\.\.\.\): `eval_steps`"):
        assert TrainConfig(eval_steps=4).max_eval_steps == 4
    with pytest.warns(RenamedFieldWarning):
        assert TrainConfig().replace(eval_steps=5).max_eval_steps == 5
    with pytest.raises(ValueError, match="`eval_steps` is the old name of `max_eval_steps`"):
        TrainConfig.from_dict({"eval_steps": 1, "max_eval_steps": 2})
    saved = TrainConfig.load(config.save(str(tmp_path)))  # written back with the new names
    assert "max_steps_per_epoch" in json.loads(path.read_text()) and saved == config


def test_schedule_fields_have_the_config_names():
    """One name per setting from TrainConfig to PaperSchedule and back (get_config)."""
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(SCHEDULE_FIELDS) <= fields and RESUME_MAY_CHANGE <= fields
    assert list(inspect.signature(PaperSchedule).parameters) == [
        "lr", "lr_schedule", "steps_per_epoch", "total_steps", *SCHEDULE_FIELDS[2:]]
    config = TrainConfig(lr=0.1, lr_schedule="piecewise", lr_boundaries=[2, 4], lr_decay=0.5,
                         warmup_epochs=1, warmup="constant", warmup_lr=0.01)
    schedule = PaperSchedule.from_train_config(config, steps_per_epoch=10, total_steps=60)
    saved = schedule.get_config()
    assert {k: saved[k] for k in SCHEDULE_FIELDS} == {k: getattr(config, k)
                                                      for k in SCHEDULE_FIELDS}
    assert PaperSchedule.from_config(saved).get_config() == saved
    np.testing.assert_allclose(_values(schedule, [0, 10, 20, 40]), [0.01, 0.1, 0.05, 0.025],
                               rtol=1e-6)
    # A schedule serialized by an earlier version (kind, boundaries, decay, decay_epochs).
    old = {"kind": "piecewise", "boundaries": [2.0, 4.0], "decay": 0.5, "decay_epochs": 0.0,
           **{k: saved[k] for k in ("lr", "steps_per_epoch", "total_steps", "warmup_epochs",
                                    "warmup", "warmup_lr")}}
    with pytest.warns(RenamedFieldWarning, match="`kind` is now `lr_schedule`"):
        assert PaperSchedule.from_config(old).get_config() == saved
