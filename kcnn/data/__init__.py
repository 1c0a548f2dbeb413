"""Input pipelines: TFDS, image folders and offline digits; paper augmentations.

Pure functions of their arguments: the order of epoch e is a function of (seed, e).
"""

from kcnn.data.augment import AUGMENTATIONS, augment
from kcnn.data.decode import MAX_PIXELS, decode_image
from kcnn.data.pipeline import (channel_stats, eval_batches, pixel_batches, steps_per_epoch,
                                 train_batches)
from kcnn.data.preprocessing import eval_transform
from kcnn.data.sources import Source, load_source, smoke_data
from kcnn.data.tfds_prepare import DatasetUnavailableError, prepare_tfds
from kcnn.preprocessing import Preprocessing  # the contract, re-exported
