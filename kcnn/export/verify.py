"""Verification of an exported SavedModel against the Keras model it came from.

The SavedModel is loaded in a fresh Python process that cannot import kcnn; both
signatures run there on the same images as the Keras model here, and TensorFlow's
`saved_model_cli show` must list the documented signatures.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from kcnn._child_process import start as start_child
from kcnn.export import signatures as sig
from kcnn.export.warmup import encode, sample_images
from kcnn.models.heads import inference_model, outputs_logits
from kcnn.preprocessing import Preprocessing

_CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_verify_child.py")


class VerificationError(RuntimeError):
    """An exported SavedModel does not behave like its Keras model."""


def verify_saved_model(saved_model_dir, model, preprocessing=None, *, top_k=5,
                       model_outputs="auto", batch_sizes=(1, 7), atol=1e-5,
                       check_cli=True, timeout=600):
    """Checks a SavedModel written by `export_saved_model` in a fresh process.

    Synthetic images of exactly the model's input size (so resizing is the identity)
    are preprocessed here with NumPy and run through the Keras model; the SavedModel is
    loaded in a new `python` process that blocks any kcnn import, and both signatures
    are called there on the same images (PNG bytes and float pixels) for each batch
    size. Probabilities and top-k scores must agree within `atol`, top-k indices
    must be the Keras model's top k (up to ties within `atol`), class names must
    match the indices.

    Args:
        saved_model_dir: str or path. A version directory (`base_dir/N`).
        model: the `keras.Model` that was exported.
        preprocessing: a `Preprocessing`, a dict or None. As given to
            `export_saved_model`.
        top_k, model_outputs: as given to `export_saved_model`.
        batch_sizes: tuple of ints. Batch sizes to call the signatures with.
            Defaults to `(1, 7)`.
        atol: float. Largest allowed absolute difference. Defaults to 1e-5.
        check_cli: bool. Also run `saved_model_cli show --all`. Defaults to `True`.
        timeout: float. Seconds allowed to each subprocess. Defaults to 600.

    Returns:
        A dict: `max_abs_diff` per signature and batch size, `output_spread` (the
        largest range of one class probability over the images), `signatures` (what
        `saved_model_cli` listed, or None), `tensorflow` (the child's version).

    Raises:
        VerificationError: if anything disagrees; the message says what.
    """
    saved_model_dir = os.fspath(saved_model_dir)
    head = inference_model(model)
    preprocessing = Preprocessing.resolve(preprocessing, head)
    height, width = preprocessing.image_size
    channels = preprocessing.channels
    class_names = (None if preprocessing.class_names is None
                   else list(preprocessing.class_names))
    num_classes = head.output_shape[-1]
    k = min(top_k, num_classes)
    apply_softmax = outputs_logits(head, model_outputs)

    # Images at the size the signatures resize to, so that their resize is the identity;
    # with `crop_fraction`, the center crop is then a slice.
    size = preprocessing.resize_size
    pixels = sample_images(max(batch_sizes), size or height, size or width, channels, seed=0)
    x = pixels.astype(np.float32)
    if size is not None:
        top, left = round((size - height) / 2), round((size - width) / 2)
        x = x[:, top:top + height, left:left + width]
    expected = {b: keras_probabilities(head, x[:b], preprocessing, apply_softmax)
                for b in batch_sizes}

    # saved_model_cli runs beside the fresh-process check (both mostly import TensorFlow).
    cli = _start(_cli_show(saved_model_dir)) if check_cli else None
    try:
        with tempfile.TemporaryDirectory(prefix="kcnn-verify-") as tmp:
            arrays = {"pixels": pixels, "batch_sizes": np.asarray(batch_sizes)}
            for i, image in enumerate(pixels):
                arrays[f"png_{i}"] = np.frombuffer(encode(image, "png"), np.uint8)
            in_path, out_path = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
            np.savez(in_path, **arrays)
            out = _finish(_start([sys.executable, _CHILD, saved_model_dir, in_path,
                                  out_path]), timeout, "the fresh-process check")
            info = json.loads(out.strip().splitlines()[-1])
            with np.load(out_path) as f:
                got = dict(f)
        cli_text = _finish(cli, timeout, "saved_model_cli show") if cli else None
    finally:
        if cli is not None and cli.poll() is None:
            cli.kill()
            cli.communicate()

    if info["kcnn_imported"]:
        raise VerificationError("kcnn was imported while loading the SavedModel.")
    outputs = sorted(sig.output_names(class_names))
    for name, inp in ((sig.BYTES_SIGNATURE, sig.BYTES_INPUT),
                      (sig.FLOAT_SIGNATURE, sig.FLOAT_INPUT)):
        want = {"inputs": [inp], "outputs": outputs}
        if info["signatures"].get(name) != want:
            raise VerificationError(
                f"Signature {name!r} is {info['signatures'].get(name)}; expected {want}.")

    # How much the outputs vary between the images: agreement within `atol` means
    # little if the model gives (nearly) the same output for every image.
    spread = float(np.max(np.ptp(expected[max(batch_sizes)], axis=0)))
    report = {"max_abs_diff": {}, "output_spread": spread,
              "tensorflow": info["tensorflow"], "signatures": None}
    for name in (sig.BYTES_SIGNATURE, sig.FLOAT_SIGNATURE):
        for b in batch_sizes:
            report["max_abs_diff"].setdefault(name, {})[b] = _compare(
                f"{name} (batch {b})", expected[b], k, class_names,
                {key: got[f"{name}/{b}/{key}"] for key in outputs}, atol)
    if cli_text is not None:
        report["signatures"] = _check_cli_listing(cli_text, num_classes, k, channels,
                                                  class_names)
    return report


def keras_probabilities(head, pixels, preprocessing, apply_softmax):
    """The Keras model's probabilities (float64) for float pixels in [0, 255] at its input
    size: the contract's channel order, scale and normalization in NumPy, then `head`,
    then softmax when `apply_softmax`."""
    x = np.asarray(pixels, np.float32)
    if preprocessing.channel_order == "BGR":
        x = x[..., ::-1]
    x = ((x * np.float32(preprocessing.scale) - np.float32(preprocessing.mean))
         / np.float32(preprocessing.std))
    y = np.asarray(head(x, training=False), dtype=np.float64)
    if apply_softmax:
        y = np.exp(y - y.max(axis=-1, keepdims=True))
        y /= y.sum(axis=-1, keepdims=True)
    return y


def run_in_runtime(runtime, model_file, batches, *, threads=None, timeout=600):
    """Runs an ONNX (`runtime="onnx"`, onnxruntime) or LiteRT (`"litert"`) file on each
    float32 array of `batches` in a fresh Python process that blocks any kcnn import.

    Returns:
        (list of output arrays, the child's info dict: runtime, input, outputs).

    Raises:
        VerificationError: if the child fails, times out or imported kcnn.
    """
    with tempfile.TemporaryDirectory(prefix="kcnn-verify-") as tmp:
        in_path, out_path = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        np.savez(in_path, **{f"x_{i}": np.asarray(x, np.float32)
                             for i, x in enumerate(batches)})
        command = [sys.executable, _CHILD, "--runtime", runtime, os.fspath(model_file),
                   in_path, out_path] + ([] if threads is None else [str(threads)])
        out = _finish(_start(command), timeout, f"the fresh-process {runtime} run")
        info = json.loads(out.strip().splitlines()[-1])
        with np.load(out_path) as f:
            outputs = [f[f"y_{i}"] for i in range(len(batches))]
    if info["kcnn_imported"]:
        raise VerificationError(f"kcnn was imported while running the {runtime} file.")
    return outputs, info


def verify_runtime_file(model_file, runtime, model, preprocessing=None, *,
                        model_outputs="auto", batch_sizes=(1, 7), atol=1e-4, timeout=600,
                        extra_batches=()):
    """Checks an ONNX or LiteRT export (`kcnn.export.portable`) in its own runtime.

    Synthetic images at the model's input size go through the Keras model here (the
    contract's normalization in NumPy) and through the file in a fresh process
    (`run_in_runtime`), for each batch size; the probabilities must agree within `atol`.
    With `atol=None` (a quantized file) only shapes and finiteness are checked and the
    difference is reported. `extra_batches` (float32 pixel arrays) run in the same child
    process; their outputs are returned in the report's `extra_outputs`.

    Returns:
        A dict: `max_abs_diff` per batch size, `output_spread`, `runtime`,
        `extra_outputs`.

    Raises:
        VerificationError: if anything disagrees; the message says what.
    """
    head = inference_model(model)
    preprocessing = Preprocessing.resolve(preprocessing, head)
    height, width = preprocessing.image_size
    apply_softmax = outputs_logits(head, model_outputs)
    pixels = sample_images(max(batch_sizes), height, width, preprocessing.channels,
                           seed=0).astype(np.float32)
    extra_batches = list(extra_batches)
    got, info = run_in_runtime(runtime, model_file,
                               [pixels[:b] for b in batch_sizes] + extra_batches,
                               timeout=timeout)
    report = {"max_abs_diff": {}, "runtime": info["runtime"],
              "tensorflow_imported": info["tensorflow_imported"],
              "extra_outputs": got[len(batch_sizes):]}
    got = got[:len(batch_sizes)]
    for b, y in zip(batch_sizes, got):
        want = keras_probabilities(head, pixels[:b], preprocessing, apply_softmax)
        if y.shape != want.shape or not np.all(np.isfinite(y)):
            raise VerificationError(f"{runtime} (batch {b}): output of shape {y.shape} "
                                    f"(finite: {bool(np.all(np.isfinite(y)))}); the Keras "
                                    f"model gives {want.shape}.")
        diff = float(np.max(np.abs(y - want)))
        if atol is not None and diff > atol:
            raise VerificationError(f"{runtime} (batch {b}): probabilities differ from the "
                                    f"Keras model's by {diff:.3g} (allowed {atol:g}).")
        report["max_abs_diff"][b] = diff
        if b == max(batch_sizes):
            report["output_spread"] = float(np.max(np.ptp(want, axis=0)))
    return report


def _compare(what, expected, k, class_names, got, atol):
    probabilities = got["probabilities"]
    if probabilities.shape != expected.shape:
        raise VerificationError(f"{what}: probabilities have shape {probabilities.shape}; "
                                f"the Keras model gives {expected.shape}.")
    diff = float(np.max(np.abs(probabilities - expected)))
    order = np.argsort(-expected, axis=-1, kind="stable")[:, :k]
    top = np.take_along_axis(expected, order, axis=-1)
    indices = got["top_k_indices"]
    diff = max(diff, float(np.max(np.abs(got["top_k_scores"] - top))))
    if diff > atol:
        raise VerificationError(f"{what}: outputs differ from the Keras model's by {diff:.3g}"
                                f" (allowed {atol:g}).")
    # Indices may differ from the Keras order only between (near-)tied scores.
    if indices.shape != order.shape or np.any(
            np.abs(np.take_along_axis(expected, indices, axis=-1) - top) > atol):
        raise VerificationError(f"{what}: top_k_indices {indices.tolist()} are not the Keras"
                                f" model's top {k} classes {order.tolist()}.")
    if class_names is not None and not np.array_equal(
            got[sig.CLASS_NAMES_OUTPUT], np.asarray(class_names)[indices]):
        raise VerificationError(f"{what}: top_k_class_names do not match top_k_indices.")
    return diff


def saved_model_cli_command():
    """The `saved_model_cli` of this Python's TensorFlow (as a command list)."""
    found = shutil.which("saved_model_cli", path=os.pathsep.join(
        [os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    return [found] if found else [sys.executable, "-m",
                                  "tensorflow.python.tools.saved_model_cli"]


def parse_saved_model_cli(text):
    """Parses `saved_model_cli show --all` output.

    Returns:
        `{signature: {"inputs": {key: (dtype, shape)}, "outputs": {...}}}`, with
        dtype such as `"DT_FLOAT"` and shape such as `"(-1, 10)"`.
    """
    result, current, side, key = {}, None, None, None
    for line in text.splitlines():
        if m := re.match(r"signature_def\['(.+)'\]:", line):
            current = result.setdefault(m.group(1), {"inputs": {}, "outputs": {}})
        elif current is not None and (m := re.match(r"\s+(inputs|outputs)\['(.+)'\] "
                                                   r"tensor_info:", line)):
            side, key = m.groups()
            current[side][key] = [None, None]
        elif current is not None and key and (m := re.match(r"\s+(dtype|shape): (.+)",
                                                            line)):
            current[side][key][0 if m.group(1) == "dtype" else 1] = m.group(2).strip()
    return {name: {s: {k: tuple(v) for k, v in d[s].items()} for s in d}
            for name, d in result.items()}


def expected_signatures(num_classes, top_k, channels, class_names):
    """The documented signatures, as `parse_saved_model_cli` reports them."""
    outputs = {"probabilities": ("DT_FLOAT", f"(-1, {num_classes})"),
               "top_k_scores": ("DT_FLOAT", f"(-1, {top_k})"),
               "top_k_indices": ("DT_INT32", f"(-1, {top_k})")}
    if class_names:
        outputs[sig.CLASS_NAMES_OUTPUT] = ("DT_STRING", f"(-1, {top_k})")
    return {sig.BYTES_SIGNATURE: {"inputs": {sig.BYTES_INPUT: ("DT_STRING", "(-1)")},
                                  "outputs": outputs},
            sig.FLOAT_SIGNATURE: {"inputs": {sig.FLOAT_INPUT: (
                "DT_FLOAT", f"(-1, -1, -1, {channels})")}, "outputs": outputs}}


def _cli_show(saved_model_dir):
    return saved_model_cli_command() + ["show", "--dir", os.fspath(saved_model_dir), "--all"]


def _check_cli_listing(text, num_classes, top_k, channels, class_names):
    listed = parse_saved_model_cli(text)
    want = expected_signatures(num_classes, top_k, channels, class_names)
    got = {name: listed.get(name) for name in want}
    if got != want:
        raise VerificationError(f"saved_model_cli show lists {got}; expected {want}.")
    return got


def _start(command):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL",
                                                                 "2"))
    # Killed by the kernel if this process dies: never outlives `kcnn export --verify`.
    return start_child(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=env)


def _finish(proc, timeout, what):
    """Waits for `proc`; returns its stdout or raises VerificationError.

    On any exception while waiting (a timeout, Ctrl-C) the child is killed first.
    """
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as e:
        proc.kill()
        proc.communicate()
        raise VerificationError(f"{what} did not finish in {timeout} s.") from e
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if proc.returncode != 0:
        raise VerificationError(f"{what} failed (exit {proc.returncode}):\n{err[-3000:]}")
    return out
