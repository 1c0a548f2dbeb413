"""export_saved_model folds BatchNorm by default; the folded SavedModel computes the same.

(`verify=True` on a model with BatchNorm, which compares the folded SavedModel with the
unfolded Keras model in a fresh process, runs in test_verify.py.)"""

import tensorflow as tf

import kcnn
from export.export_helpers import max_served_difference
from kcnn.export import export_saved_model


def _variable_names(path):
    return [v.name for v in tf.saved_model.load(path).variables]


def test_export_folds_batch_norm_and_verifies(tmp_path):
    model = kcnn.models.resnet20(input_shape=(16, 16, 3))
    folded = export_saved_model(model, tmp_path / "folded", warmup=False)
    assert max_served_difference(folded.path, model, (16, 16)) < 1e-5
    names = _variable_names(folded.path)
    assert names and not [n for n in names if "moving_mean" in n or "gamma" in n]
    kept = export_saved_model(model, tmp_path / "kept", fold_bn=False, warmup=False)
    assert any("moving_mean" in n for n in _variable_names(kept.path))
