"""ONNX and LiteRT exports: one model file per version, verified in its own runtime.

Layout, as the SavedModel's (`kcnn.export.saved_model`): `base_dir/<version>/model.onnx`
(or `model.tflite`), `preprocessing.json` and, when the class names are known,
`labels.txt` (one name per line, in index order), written into a hidden temporary folder,
optionally verified, and renamed into place only when complete.

The graph (both formats) takes one input, `images`: float32 [batch, height, width,
channels], decoded pixel values in [0, 255] at the model's input size (`image_size` of
`preprocessing.json`), RGB. Inside it are the contract's channel order, `x * scale` and
`(x - mean) / std`, the model (BatchNorm folded unless `fold_bn=False`) and, when the model
outputs logits, a softmax. It returns one output, `probabilities`: float32 [batch,
classes]. Decoding, resizing (and the center crop) are the caller's, as
`preprocessing.json` describes: `kcnn.data.pixel_batches` does them with TensorFlow.

Conversion is Keras 3's `model.export(format="onnx" | "litert")` (tf2onnx and the TFLite
converter underneath); `quantize="int8"` adds post-training full-integer quantization
(the TFLite converter with a representative dataset; onnxruntime's static quantizer,
QDQ, per channel), calibrated on images the caller gives. The graph's input and output
stay float32 (quantize and dequantize are in the graph).
"""

import dataclasses
import importlib
import os
import warnings

import keras
import numpy as np

from kcnn.export.fold import fold_batch_norm
from kcnn.export.saved_model import (check_version, classifier_destination, has_batch_norm,
                                     write_version)
from kcnn.export.verify import (VerificationError, keras_probabilities, run_in_runtime,
                                verify_runtime_file)
from kcnn.models.heads import MODEL_OUTPUTS, inference_model, outputs_logits
from kcnn.preprocessing import Preprocessing

FORMATS = ("saved_model", "onnx", "litert")
MODEL_FILES = {"onnx": "model.onnx", "litert": "model.tflite"}
LABELS_FILE = "labels.txt"
QUANTIZATIONS = ("int8",)
INPUT_NAME = "images"
OUTPUT_NAME = "probabilities"
# Calibration images for int8 (the first N of the training split in a seeded order).
CALIBRATION_IMAGES = 256
# (extra, modules) each format needs beyond TensorFlow. LiteRT files are written by
# TensorFlow's converter and run by `ai_edge_litert` (the `litert` extra) or, without it,
# TensorFlow's own `tf.lite.Interpreter`.
_NEEDS = {"onnx": ("onnx", ("onnx", "onnxruntime", "tf2onnx")),
          "litert": ("litert", ())}


@dataclasses.dataclass(frozen=True)
class PortableExport:
    """What `export_portable` wrote.

    Attributes:
        path: str. The version folder, `base_dir/<version>`.
        version: int.
        file: str. The model file in it.
        format: "onnx" or "litert".
        quantize: None or "int8".
        applies_softmax: bool. Whether the graph applies softmax to the model's output.
        size_bytes: int. The model file's size.
        verification: dict or None. `verify_runtime_file`'s report (`verify=True`).
        accuracy: dict or None. With `evaluation`: `keras_top1`, `exported_top1`,
            `agreement` (same top-1 as Keras), `examples`.
        fp32_size_bytes: int. The float32 file's size (converted too when quantized).
    """
    path: str
    version: int
    file: str
    format: str
    quantize: str | None
    applies_softmax: bool
    size_bytes: int
    verification: dict | None = None
    accuracy: dict | None = None
    fp32_size_bytes: int | None = None


def require(format):
    """Raises ImportError naming the kcnn extra to install if `format` cannot be used."""
    extra, modules = _NEEDS[format]
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise ImportError(f"--format {format} needs the Python package {module!r} "
                              f"({e}); install kcnn's {extra!r} extra: "
                              f"pip install 'kcnn[{extra}]'") from None


def inference_graph(model, preprocessing=None, *, model_outputs="auto", fold_bn=True):
    """The exported graph as a Keras model: pixels in [0, 255] → probabilities.

    Args:
        model: a built functional `keras.Model` (auxiliary heads are dropped).
        preprocessing: a `Preprocessing`, a dict or None (`Preprocessing.default_for`).
        model_outputs: "auto", "logits" or "probabilities" (`kcnn.models.heads`).
        fold_bn: bool. Fold BatchNorm into the convolutions (`fold_batch_norm`).

    Returns:
        (keras.Model, applies_softmax).
    """
    head = inference_model(model)
    prep = Preprocessing.resolve(preprocessing, head)
    apply_softmax = outputs_logits(head, model_outputs)
    served = fold_batch_norm(head) if fold_bn and has_batch_norm(head) else head
    shape = (*prep.image_size, prep.channels)
    images = keras.Input(shape, name=INPUT_NAME, dtype="float32")
    x = keras.ops.flip(images, axis=-1) if prep.channel_order == "BGR" else images
    x = ((x * np.float32(prep.scale) - np.asarray(prep.mean, np.float32))
         / np.asarray(prep.std, np.float32))
    y = keras.ops.cast(served(x, training=False), "float32")
    if apply_softmax:
        y = keras.ops.softmax(y, axis=-1)
    graph = keras.Model(images, y, name=f"{head.name}_inference")
    graph(np.zeros((1, *shape), np.float32))  # Keras's ONNX export needs a called model
    return graph, apply_softmax


def export_portable(model, base_dir, format, version=None, preprocessing=None, *,
                    model_outputs="auto", fold_bn=True, verify=False, quantize=None,
                    calibration=None, evaluation=None, atol=1e-4, max_top1_drop=0.01):
    """Exports `model` as `base_dir/<version>/model.onnx` or `model.tflite`.

    Args:
        model: a built functional `keras.Model` taking (batch, height, width, channels).
        base_dir: str or path. Created if needed.
        format: "onnx" or "litert".
        version: int in [0, 2**63 - 1] or None (one more than the highest, or 1).
        preprocessing: a `Preprocessing`, a dict or None (`Preprocessing.default_for`).
        model_outputs: "auto", "logits" or "probabilities".
        fold_bn: bool. Fold BatchNorm into the convolutions. Defaults to True.
        verify: bool. Run the file in its runtime in a fresh process on synthetic images
            and compare with Keras (`verify_runtime_file`, within `atol`; a quantized file:
            its held-out top-1 must be within `max_top1_drop` of Keras's). On failure
            nothing is written.
        quantize: None or "int8" (post-training full-integer quantization).
        calibration: with `quantize`: a list of float32 pixel batches (as the graph
            takes them), e.g. `CALIBRATION_IMAGES` training images.
        evaluation: None or (pixels float32 [n, h, w, c], labels [n]): top-1 of Keras
            and of the file (in its runtime, fresh process) are reported.
        atol: float. Largest allowed difference of the probabilities. Defaults to 1e-4.
        max_top1_drop: float. With `verify` and `quantize`: largest allowed loss of
            top-1 (a fraction: 0.01 is one point). Defaults to 0.01.

    Returns:
        A `PortableExport`.

    Raises:
        ValueError: bad arguments (named).
        ImportError: the format's packages are missing (the message names the extra).
        FileExistsError: `base_dir/<version>` exists and is not empty.
        kcnn.export.VerificationError: `verify=True` and the check failed.
    """
    if format not in MODEL_FILES:
        raise ValueError(f"`format` must be one of {tuple(MODEL_FILES)}; got {format!r}.")
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise ValueError(f"`quantize` must be None or one of {QUANTIZATIONS}; got "
                         f"quantize={quantize!r}.")
    if quantize is not None and not calibration:
        raise ValueError("`quantize` needs `calibration`: a non-empty list of pixel "
                         "batches (training images) to calibrate the int8 ranges on.")
    if model_outputs not in MODEL_OUTPUTS:
        raise ValueError(f"`model_outputs` must be one of {MODEL_OUTPUTS}; got "
                         f"model_outputs={model_outputs!r}.")
    check_version(version)
    if keras.backend.backend() != "tensorflow":
        raise ValueError(f"--format {format} needs the TensorFlow backend "
                         f"(KERAS_BACKEND=tensorflow); the current backend is "
                         f"{keras.backend.backend()!r}.")
    require(format)
    if not isinstance(model, keras.Model) or not model.built or not model.inputs:
        raise ValueError(f"`model` must be a built functional keras.Model; got {model!r}.")
    base_dir = os.path.abspath(os.fspath(base_dir))
    head, prep = classifier_destination(model, preprocessing, base_dir, version)
    name = MODEL_FILES[format]

    def write(tmp):
        graph, applies_softmax = inference_graph(head, prep, model_outputs=model_outputs,
                                                 fold_bn=fold_bn)
        file = os.path.join(tmp, name)
        fp32_size = (_write_onnx if format == "onnx" else _write_litert)(
            graph, file, quantize, calibration)
        prep.save(tmp)
        if prep.class_names is not None:
            with open(os.path.join(tmp, LABELS_FILE), "w", encoding="utf-8") as f:
                f.write("".join(f"{n}\n" for n in prep.class_names))
        chunks = [] if evaluation is None else _chunks(evaluation[0])
        report = outputs = None
        if verify:  # the held-out images run in the same fresh process
            report = verify_runtime_file(file, format, head, prep,
                                         model_outputs=model_outputs,
                                         atol=None if quantize else atol,
                                         extra_batches=chunks)
            outputs = report.pop("extra_outputs")
        accuracy = None
        if evaluation is not None:
            if outputs is None:
                outputs, _ = run_in_runtime(format, file, chunks)
            accuracy = top1_report(head, prep, chunks, outputs, evaluation[1],
                                   apply_softmax=applies_softmax)
            if verify and quantize and (accuracy["keras_top1"] - accuracy["exported_top1"]
                                        > max_top1_drop):
                raise VerificationError(
                    f"int8 {format}: held-out top-1 {accuracy['exported_top1']:.2%} is more "
                    f"than {max_top1_drop:.1%} below Keras's {accuracy['keras_top1']:.2%}.")
        return applies_softmax, report, accuracy, fp32_size

    version, (applies_softmax, report, accuracy, fp32_size) = write_version(
        base_dir, version, write)
    path = os.path.join(base_dir, str(version))
    file = os.path.join(path, name)
    return PortableExport(path, version, file, format, quantize, applies_softmax,
                          os.path.getsize(file), report, accuracy, fp32_size)


def _chunks(pixels, batch_size=64):
    return [np.asarray(pixels[i:i + batch_size], np.float32)
            for i in range(0, len(pixels), batch_size)]


def top1_report(model, preprocessing, chunks, outputs, labels, *, apply_softmax):
    """Top-1 of the Keras model (run here on the pixel `chunks`) and of the exported
    file (its `outputs` for them, from its runtime), and how often they agree."""
    head = inference_model(model)
    labels = np.asarray(labels).reshape(-1)
    want = np.concatenate([keras_probabilities(head, x, preprocessing, apply_softmax)
                           for x in chunks]).argmax(-1)
    got = np.concatenate(outputs).argmax(-1)
    return {"examples": int(len(labels)), "keras_top1": float(np.mean(want == labels)),
            "exported_top1": float(np.mean(got == labels)),
            "agreement": float(np.mean(want == got))}


def _write_onnx(graph, file, quantize, calibration):
    import onnx

    fp32 = file if quantize is None else file + ".fp32"
    with warnings.catch_warnings():  # Keras's tf2onnx patch probes the removed np.object
        warnings.filterwarnings("ignore", category=FutureWarning, message=".*np.object")
        graph.export(fp32, format="onnx", verbose=False)
    proto = onnx.load(fp32)
    _rename_output(proto, OUTPUT_NAME)
    onnx.save(proto, fp32)
    fp32_size = os.path.getsize(fp32)
    if quantize is None:
        return fp32_size
    from onnxruntime import quantization as q
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = file + ".prep"
    quant_pre_process(fp32, prepared, skip_symbolic_shape=True)
    batches = iter(calibration)

    class Reader(q.CalibrationDataReader):
        def get_next(self):
            x = next(batches, None)
            return None if x is None else {INPUT_NAME: np.asarray(x, np.float32)}

    try:
        q.quantize_static(prepared, file, Reader(), quant_format=q.QuantFormat.QDQ,
                          per_channel=True, activation_type=q.QuantType.QUInt8,
                          weight_type=q.QuantType.QInt8)
    except Exception as e:  # noqa: BLE001  (any quantizer failure: say what to do)
        raise ValueError(f"onnxruntime's static quantizer cannot quantize this model "
                         f"({type(e).__name__}: {e}); use --format litert --quantize int8, "
                         "or export ONNX in float32.") from e
    for extra in (fp32, prepared):
        os.remove(extra)
    return fp32_size


def _rename_output(proto, new):
    """Names the graph's one output `new` (tf2onnx calls it 'Identity:0'); the batch
    dimension of the input and output is named 'batch'."""
    graph = proto.graph
    old = graph.output[0].name
    for node in graph.node:
        node.output[:] = [new if o == old else o for o in node.output]
        node.input[:] = [new if i == old else i for i in node.input]
    graph.output[0].name = new
    for value in (graph.input[0], graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"


def _write_litert(graph, file, quantize, calibration):
    import tensorflow as tf

    fp32 = file if quantize is None else file[:-len(".tflite")] + ".fp32.tflite"
    graph.export(fp32, format="litert", verbose=False)
    fp32_size = os.path.getsize(fp32)
    if quantize is None:
        return fp32_size
    os.remove(fp32)
    if quantize == "int8":
        def representative():
            for batch in calibration:
                for x in np.asarray(batch, np.float32):
                    yield [x[None]]

        kwargs = {"optimizations": [tf.lite.Optimize.DEFAULT],
                  "representative_dataset": representative,
                  "target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]}}
    graph.export(file, format="litert", verbose=False, **kwargs)
    return fp32_size
