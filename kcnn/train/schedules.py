"""The learning-rate schedules of the papers, in optimizer steps."""

import math
import warnings

import keras
from keras import ops

from kcnn.train.config import RenamedFieldWarning

# The TrainConfig fields a PaperSchedule takes, by the same names.
FIELDS = ("lr", "lr_schedule", "lr_boundaries", "lr_decay", "lr_decay_epochs",
          "warmup_epochs", "warmup", "warmup_lr")
# Argument names of earlier versions (in serialized schedules) → the TrainConfig names.
_RENAMED = {"kind": "lr_schedule", "boundaries": "lr_boundaries", "decay": "lr_decay",
            "decay_epochs": "lr_decay_epochs"}


@keras.saving.register_keras_serializable(package="kcnn")
class PaperSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Constant, step, piecewise or cosine decay after an optional warm-up.

    The arguments are the `TrainConfig` fields of the same names (`FIELDS`), plus the
    run's lengths in steps.

    Args:
        lr: float. The rate after warm-up (the peak).
        lr_schedule: "constant", "step", "piecewise" or "cosine".
        steps_per_epoch: int. Steps in one epoch of the run; converts the epoch
            arguments to steps.
        total_steps: int. Length of training (the end of the cosine).
        lr_boundaries: list of float. Epochs where "piecewise" multiplies by `lr_decay`.
        lr_decay: float. The factor of "step" and "piecewise".
        lr_decay_epochs: float. Period of "step" (GoogLeNet: 0.96 every 8 epochs).
        warmup_epochs: float. Warm-up length.
        warmup: "linear" (from `warmup_lr` up to `lr`) or "constant" (hold `warmup_lr`).
        warmup_lr: float.
    """

    def __init__(self, lr, lr_schedule, steps_per_epoch, total_steps, lr_boundaries=(),
                 lr_decay=0.1, lr_decay_epochs=0.0, warmup_epochs=0.0, warmup="linear",
                 warmup_lr=0.0):
        self.lr = float(lr)
        self.lr_schedule = lr_schedule
        self.steps_per_epoch = int(steps_per_epoch)
        self.total_steps = int(total_steps)
        self.lr_boundaries = [float(b) for b in lr_boundaries]
        self.lr_decay = float(lr_decay)
        self.lr_decay_epochs = float(lr_decay_epochs)
        self.warmup_epochs = float(warmup_epochs)
        self.warmup = warmup
        self.warmup_lr = float(warmup_lr)

    @classmethod
    def from_train_config(cls, config, *, steps_per_epoch, total_steps):
        """The schedule that `config` (a `TrainConfig`) describes, for a run of that length."""
        return cls(**{name: getattr(config, name) for name in FIELDS},
                   steps_per_epoch=steps_per_epoch, total_steps=total_steps)

    def _steps(self, epochs):
        return int(round(epochs * self.steps_per_epoch))

    def __call__(self, step):
        step = ops.cast(step, "float32")
        lr = ops.convert_to_tensor(self.lr, "float32")
        if self.lr_schedule == "step":
            period = max(self._steps(self.lr_decay_epochs), 1)
            lr = lr * ops.power(self.lr_decay, ops.floor(step / period))
        elif self.lr_schedule == "piecewise":
            crossed = sum(ops.cast(step >= self._steps(b), "float32")
                          for b in self.lr_boundaries)
            lr = lr * ops.power(self.lr_decay, crossed)
        elif self.lr_schedule == "cosine":
            start = self._steps(self.warmup_epochs)
            length = max(self.total_steps - start, 1)
            progress = ops.clip((step - start) / length, 0.0, 1.0)
            lr = 0.5 * lr * (1.0 + ops.cos(math.pi * progress))
        warmup_steps = self._steps(self.warmup_epochs)
        if warmup_steps > 0:
            if self.warmup == "linear":
                ramp = self.warmup_lr + (self.lr - self.warmup_lr) * step / warmup_steps
            else:
                ramp = ops.convert_to_tensor(self.warmup_lr, "float32")
            lr = ops.where(step < warmup_steps, ramp, lr)
        return lr

    def get_config(self):
        return {name: getattr(self, name)
                for name in (*FIELDS, "steps_per_epoch", "total_steps")}

    @classmethod
    def from_config(cls, config):
        """Reads `get_config()`'s dict, and that of earlier versions (`kind`, `decay`, ...)."""
        old = sorted(set(config) & set(_RENAMED))
        if old:
            renames = ", ".join(f"`{k}` is now `{_RENAMED[k]}`" for k in old)
            warnings.warn(f"PaperSchedule config: {renames} (the TrainConfig names).",
                          RenamedFieldWarning, stacklevel=2)
        return cls(**{_RENAMED.get(k, k): v for k, v in config.items()})
