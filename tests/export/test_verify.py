"""Fresh-process verification: the SavedModel, loaded without kcnn, equals the Keras model."""

import importlib.util
import os
import re

import numpy as np
import pytest
import tensorflow as tf

import kcnn
from export.export_helpers import LENET_PREPROCESSING
from kcnn.export import VerificationError, export_saved_model, verify_saved_model
from kcnn.export import verify as verify_module

CIFAR = {"image_size": [32, 32], "channels": 3, "scale": 1 / 255,
         "mean": [0.4914, 0.4822, 0.4465], "std": [0.2470, 0.2435, 0.2616],
         "class_names": None}

CASES = {
    "lenet5": (dict(), LENET_PREPROCESSING),
    "resnet20": (dict(), CIFAR),
    "nin": (dict(), dict(CIFAR, class_names=[f"c{i}" for i in range(10)])),
    "googlenet": (dict(input_shape=(65, 65, 3), num_classes=10, aux_logits=True),
                  dict(CIFAR, image_size=[65, 65])),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fresh_process_outputs_equal_keras(name, tmp_path):
    kwargs, preprocessing = CASES[name]
    model = kcnn.models.get_model(name, **kwargs)
    result = export_saved_model(model, tmp_path / name, preprocessing=preprocessing,
                                verify=True)
    report = result.verification
    assert report["tensorflow"] == tf.__version__
    diffs = report["max_abs_diff"]
    assert set(diffs) == {"serving_default", "predict_images"}
    for per_batch in diffs.values():
        assert set(per_batch) == {1, 7}
        assert max(per_batch.values()) <= 1e-5
    # Agreement within 1e-5 means something only if the outputs vary between images.
    assert report["output_spread"] > 1e-3
    assert set(report["signatures"]) == {"serving_default", "predict_images"}
    print(f"{name}: max |SavedModel - Keras| {diffs}, spread {report['output_spread']:.3g}")


def test_auxiliary_heads_are_not_exported(tmp_path):
    kwargs, preprocessing = CASES["googlenet"]
    model = kcnn.models.googlenet(**kwargs)
    assert len(model.outputs) == 3
    result = export_saved_model(model, tmp_path / "g", preprocessing=preprocessing,
                                warmup=False)
    loaded = tf.saved_model.load(result.path)
    # Dropout's random-seed state is saved too; it is not a weight.
    saved = {v.name.removesuffix(":0") for v in loaded.variables
             if "seed_generator" not in v.name}
    weights = {w.path for w in model.weights}
    aux = {p for p in weights if p.startswith(("aux1/", "aux2/"))}
    assert aux and saved == weights - aux
    out = loaded.signatures["predict_images"](images=tf.zeros((2, 65, 65, 3)))
    assert set(out) == {"probabilities", "top_k_scores", "top_k_indices"}
    assert out["probabilities"].shape == (2, 10)


def test_verification_catches_a_mismatch(lenet_export):
    model, result, _ = lenet_export
    wrong = dict(LENET_PREPROCESSING, mean=[0.45])  # the export used 0.5
    with pytest.raises(VerificationError, match="differ from the Keras model's by"):
        verify_saved_model(result.path, model, wrong, check_cli=False, batch_sizes=(2,))


def test_child_blocks_kcnn_imports():
    spec = importlib.util.spec_from_file_location("verify_child", verify_module._CHILD)
    child = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(child)
    with pytest.raises(ImportError, match="must not import 'kcnn.models'"):
        child._NoKcnn().find_spec("kcnn.models")
    assert child._NoKcnn().find_spec("tensorflow") is None
    with open(verify_module._CHILD) as f:
        assert not re.search(r"^\s*(import|from)\s+kcnn", f.read(), re.MULTILINE)
    assert os.path.dirname(verify_module._CHILD).endswith(os.path.join("kcnn", "export"))
