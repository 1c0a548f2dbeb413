"""Training: `TrainConfig` and `fit(config)` on tf.distribute, with exact resume."""

from kcnn.train.config import TrainConfig
from kcnn.train.schedules import PaperSchedule
from kcnn.train.trainer import FitResult, TrainingDiverged, fit, inference_model, make_strategy
