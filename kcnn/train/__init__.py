"""Training: `TrainConfig` and `fit(config)` on tf.distribute, with exact resume."""

from kcnn.models.heads import inference_model
from kcnn.train.checkpoint import CorruptCheckpointWarning
from kcnn.train.config import RenamedFieldWarning, TrainConfig
from kcnn.train.lock import OutputDirLocked
from kcnn.train.schedules import PaperSchedule
from kcnn.train.step import make_optimizer, make_train_step
from kcnn.train.trainer import (FitResult, TrainingDiverged, TrainingInterrupted, fit,
                                make_strategy)
