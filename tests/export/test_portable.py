"""ONNX and LiteRT exports (`kcnn.export.portable`, `kcnn export --format`): real round
trips in onnxruntime and the LiteRT interpreter, int8 quantization, errors, atomicity."""

import json
import os
import sys

import keras
import numpy as np
import pytest

import kcnn
from export.export_helpers import LENET_PREPROCESSING, numeric_dirs, trained_like
from kcnn.cli import main
from kcnn.export import VerificationError
from kcnn.export.portable import export_portable, inference_graph, require
from kcnn.preprocessing import Preprocessing

pytestmark = pytest.mark.slow  # conversions take seconds; starts first in the test workers

RESNET20_PREPROCESSING = {"image_size": [32, 32], "channels": 3, "scale": 1 / 255,
                          "mean": [0.49, 0.48, 0.45], "std": [0.25, 0.24, 0.26],
                          "class_names": None, "channel_order": "BGR"}


def _onnx_run(file, x):
    import onnxruntime as ort
    session = ort.InferenceSession(file, providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, out.name) == ("images", "probabilities")
    assert inp.shape[0] == out.shape[0] == "batch"
    return session.run(None, {"images": x})[0]


def _litert_run(file, x):
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=file)
    (inp,) = interpreter.get_input_details()
    assert list(inp["shape_signature"]) == [-1, *x.shape[1:]]
    interpreter.resize_tensor_input(inp["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


RUN = {"onnx": _onnx_run, "litert": _litert_run}


def _keras_probabilities(model, x, prep):
    """softmax(model((x * scale - mean) / std)), channels reversed for BGR: computed here,
    independently of kcnn."""
    prep = Preprocessing.from_dict(prep)
    if prep.channel_order == "BGR":
        x = x[..., ::-1]
    z = (x * prep.scale - np.float32(prep.mean)) / np.float32(prep.std)
    return keras.ops.convert_to_numpy(keras.ops.softmax(model(z, training=False)))


@pytest.fixture(scope="module")
def resnet20_bn():
    """ResNet-20 with non-trivial BatchNorm statistics (folding must change the weights)."""
    keras.utils.set_random_seed(0)
    model = kcnn.models.resnet20()
    assert trained_like(model) == 4 * 19  # every BatchNorm's four weights
    return model


@pytest.mark.parametrize("fmt", ["onnx", "litert"])
def test_lenet5_verified_in_a_fresh_process_and_round_trips(fmt, tmp_path):
    model = kcnn.models.lenet5()
    base = tmp_path / fmt
    result = export_portable(model, base, fmt, preprocessing=LENET_PREPROCESSING, verify=True)
    assert (result.version, numeric_dirs(base)) == (1, ["1"])
    assert sorted(os.listdir(result.path)) == sorted(
        [os.path.basename(result.file), "labels.txt", "preprocessing.json"])
    assert open(os.path.join(result.path, "labels.txt")).read().split() == \
        LENET_PREPROCESSING["class_names"]
    assert Preprocessing.load(result.path) == Preprocessing.from_dict(LENET_PREPROCESSING)
    report = result.verification
    assert max(report["max_abs_diff"].values()) < 1e-4 and report["output_spread"] > 1e-3
    if fmt == "onnx":  # the ONNX check needs neither kcnn nor TensorFlow
        assert report["runtime"].startswith("onnxruntime") and not report[
            "tensorflow_imported"]
    x = np.random.default_rng(1).uniform(0, 255, (3, 32, 32, 1)).astype("float32")
    got = RUN[fmt](result.file, x)
    want = _keras_probabilities(model, x, LENET_PREPROCESSING)
    assert np.abs(got - want).max() < 1e-4 and np.ptp(want, axis=0).max() > 1e-3


@pytest.mark.parametrize("fmt", ["onnx", "litert"])
def test_resnet20_batch_norm_folded_round_trips(fmt, resnet20_bn, tmp_path):
    graph, applies_softmax = inference_graph(resnet20_bn, RESNET20_PREPROCESSING)
    assert applies_softmax
    def batch_norms(model):
        return sum(isinstance(layer, keras.layers.BatchNormalization)
                   for layer in model._flatten_layers(include_self=False, recursive=True))

    assert batch_norms(resnet20_bn) == 19 and batch_norms(graph) == 0
    result = export_portable(resnet20_bn, tmp_path / fmt, fmt,
                             preprocessing=RESNET20_PREPROCESSING, version=7)
    assert result.version == 7 and not os.path.exists(os.path.join(result.path,
                                                                   "labels.txt"))
    x = np.random.default_rng(2).uniform(0, 255, (5, 32, 32, 3)).astype("float32")
    got = RUN[fmt](result.file, x)
    want = _keras_probabilities(resnet20_bn, x, RESNET20_PREPROCESSING)
    assert np.abs(got - want).max() < 1e-4 and np.ptp(want, axis=0).max() > 1e-3


def test_failed_verification_leaves_base_dir_unchanged(tmp_path):
    base = tmp_path / "base"
    model = kcnn.models.lenet5()
    export_portable(model, base, "onnx")
    before = sorted(os.listdir(base))
    with pytest.raises(VerificationError, match="differ from the Keras model's"):
        export_portable(model, base, "onnx", verify=True, atol=-1.0)  # nothing passes
    assert sorted(os.listdir(base)) == before == ["1"]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A LeNet-5 fitted for a few epochs on the offline digits, saved as a run folder
    (model.keras, preprocessing.json, config.json naming the dataset)."""
    from kcnn.data import load_source, pixel_batches

    prep = Preprocessing(image_size=(32, 32), channels=1, mean=(0.3,), std=(0.32,),
                         class_names=tuple(str(i) for i in range(10)))
    source = load_source("digits", "train")
    xs, ys = zip(*[(x.numpy(), y.numpy())
                   for x, y in pixel_batches(source, prep, batch_size=512)])
    x = (np.concatenate(xs) * prep.scale - 0.3) / 0.32
    keras.utils.set_random_seed(0)
    model = kcnn.models.lenet5(num_classes=10)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
    model.fit(x, np.concatenate(ys), epochs=4, batch_size=64, verbose=0)
    run = tmp_path_factory.mktemp("runs") / "digits"
    run.mkdir()
    model.save(run / "model.keras")
    prep.save(run)
    (run / "config.json").write_text(json.dumps({"dataset": "digits", "train_split": "train",
                                                 "eval_split": "test"}))
    return str(run)


@pytest.mark.parametrize("fmt", ["litert", "onnx"])
def test_int8_of_a_trained_run_keeps_its_top1(fmt, digits_run, tmp_path, capsys):
    base = tmp_path / "int8"
    assert main(["export", digits_run, str(base), "--format", fmt, "--quantize", "int8",
                 "--verify", "--calibration-images", "64"]) == 0
    out = capsys.readouterr().out
    print(out)
    line = next(li for li in out.splitlines() if li.startswith("Held-out top-1"))
    keras_top1, int8_top1 = (float(v) for v in
                             [line.split("Keras ")[1].split("%")[0],
                              line.split(f"{fmt} int8 ")[1].split("%")[0]])
    assert keras_top1 > 85 and abs(keras_top1 - int8_top1) <= 2.0, line
    assert "on 359 images" in line and "calibrated on 64 training images" in line
    int8_size = os.path.getsize(base / "1" / ("model.tflite" if fmt == "litert"
                                              else "model.onnx"))
    assert f"file {int8_size} bytes (int8)" in line
    fp32_size = int(line.split("bytes (int8), ")[1].split(" ")[0])
    assert int8_size < 0.4 * fp32_size


def test_bad_arguments_are_named_and_write_nothing(digits_run, tmp_path, capsys,
                                                   monkeypatch):
    base = tmp_path / "base"
    written = []

    def fails(argv, words, code=2):
        assert main(["export", *argv]) == code
        err = capsys.readouterr().err
        assert words in err.strip().splitlines()[-1], err
        assert numeric_dirs(base) == written

    fails([digits_run, str(base), "--quantize", "int8"], "--format onnx or litert")
    fails([digits_run, str(base), "--format", "onnx", "--dataset", "digits"],
          "--dataset is only used with --quantize")
    fails([digits_run, str(base), "--calibration-images", "9"],
          "--calibration-images is only used with --quantize")
    fails([digits_run, str(base), "--format", "litert", "--max-pixels", "9"],
          "SavedModel options")
    fails([digits_run, str(base), "--format", "litert", "--quantize", "int8",
           "--calibration-images", "0"], "--calibration-images must be >= 1")
    bare = tmp_path / "bare"
    bare.mkdir()
    os.link(os.path.join(digits_run, "model.keras"), bare / "m.keras")
    fails([str(bare / "m.keras"), str(base), "--format", "onnx", "--quantize", "int8"],
          "pass --dataset NAME")
    with pytest.raises(ValueError, match="`quantize` needs `calibration`"):
        export_portable(kcnn.models.lenet5(), base, "onnx", quantize="int8")
    assert main(["export", digits_run, str(base), "--format", "onnx"]) == 0
    out = capsys.readouterr().out
    written.append("1")
    assert f"Exported version 1 to {base / '1' / 'model.onnx'} (onnx float32" in out
    assert "[batch, 32, 32, 1] pixels in [0, 255], output probabilities" in out
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'kcnn\[onnx\]'"):
        require("onnx")
    fails([digits_run, str(base), "--format", "onnx"], "pip install 'kcnn[onnx]'", code=1)
