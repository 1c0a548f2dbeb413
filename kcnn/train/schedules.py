"""The learning-rate schedules of the papers, in optimizer steps."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kcnn")
class PaperSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Constant, step, piecewise or cosine decay after an optional warm-up.

    Args:
        lr: float. The rate after warm-up (the peak).
        kind: "constant", "step", "piecewise" or "cosine".
        steps_per_epoch: int. Converts the epoch arguments to steps.
        total_steps: int. Length of training (the end of the cosine).
        boundaries: list of float. Epochs where "piecewise" multiplies by `decay`.
        decay: float. The factor of "step" and "piecewise".
        decay_epochs: float. Period of "step" (GoogLeNet: 0.96 every 8 epochs).
        warmup_epochs: float. Warm-up length.
        warmup: "linear" (from `warmup_lr` up to `lr`) or "constant" (hold `warmup_lr`).
        warmup_lr: float.
    """

    def __init__(self, lr, kind, steps_per_epoch, total_steps, boundaries=(), decay=0.1,
                 decay_epochs=0.0, warmup_epochs=0.0, warmup="linear", warmup_lr=0.0):
        self.lr = float(lr)
        self.kind = kind
        self.steps_per_epoch = int(steps_per_epoch)
        self.total_steps = int(total_steps)
        self.boundaries = [float(b) for b in boundaries]
        self.decay = float(decay)
        self.decay_epochs = float(decay_epochs)
        self.warmup_epochs = float(warmup_epochs)
        self.warmup = warmup
        self.warmup_lr = float(warmup_lr)

    def _steps(self, epochs):
        return int(round(epochs * self.steps_per_epoch))

    def __call__(self, step):
        step = ops.cast(step, "float32")
        lr = ops.convert_to_tensor(self.lr, "float32")
        if self.kind == "step":
            period = max(self._steps(self.decay_epochs), 1)
            lr = lr * ops.power(self.decay, ops.floor(step / period))
        elif self.kind == "piecewise":
            crossed = sum(ops.cast(step >= self._steps(b), "float32") for b in self.boundaries)
            lr = lr * ops.power(self.decay, crossed)
        elif self.kind == "cosine":
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
        return {"lr": self.lr, "kind": self.kind, "steps_per_epoch": self.steps_per_epoch,
                "total_steps": self.total_steps, "boundaries": self.boundaries,
                "decay": self.decay, "decay_epochs": self.decay_epochs,
                "warmup_epochs": self.warmup_epochs, "warmup": self.warmup,
                "warmup_lr": self.warmup_lr}
