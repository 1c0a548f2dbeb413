"""Deployment latency and throughput: Keras, the folded SavedModel, ONNX Runtime, LiteRT.

    python -m benchmarks.deploy                  # lenet5 resnet20 googlenet resnet50 + peer
    python -m benchmarks.deploy --quick          # lenet5 resnet20, few repeats: the harness
    python -m benchmarks.deploy --models resnet50 --threads 4

Per model, in its own process (`--worker`): seeded random weights at the default input
size, then, interleaved call by call (`benchmarks._timing.latency`), the batch-1 latency
of

- `keras`: `model.predict_on_batch` (BatchNorm unfolded, logits);
- `saved_model`: `kcnn.export.export_saved_model` (BatchNorm folded), loaded with
  `tf.saved_model.load`, the `predict_images` signature (resize at the identity size,
  normalization, model, softmax, top-k);
- `onnx`, `onnx_int8`: `export_portable(format="onnx")` in onnxruntime's CPU provider,
  `ORT_ENABLE_ALL` graph optimizations, `intra_op_num_threads=threads`, sequential
  execution (int8: QDQ, per channel, calibrated on `CALIBRATION` synthetic images: speed
  does not depend on what the calibration images show);
- `litert`, `litert_int8`: `export_portable(format="litert")` in the `ai_edge_litert`
  interpreter with `num_threads=threads` (its default XNNPACK delegate);
- for resnet50, `keras_applications_resnet50`: keras.applications ResNet50
  (`weights=None`) `predict_on_batch`, the target's reference;

and the throughput (images/s, best of `ROUNDS`) of each at the model's batch. All exported
graphs take float32 pixels and return probabilities (normalization and softmax inside).
Writes `benchmarks/results/deploy-<UTC>[-quick].json` and `.md`. Run the full one on a
quiet machine: the target is kcnn's fastest ResNet-50 export at <= 0.5x keras.applications
ResNet50's batch-1 latency in the same run.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

from benchmarks import report
from benchmarks.run import RESULTS, git_commit, machine, versions

MODELS = ("lenet5", "resnet20", "googlenet", "resnet50")
QUICK_MODELS = ("lenet5", "resnet20")
BATCH = {"lenet5": 256, "resnet20": 128, "googlenet": 16, "resnet50": 16}
REPEATS = {"lenet5": 300, "resnet20": 200, "googlenet": 50, "resnet50": 40}
STEPS = {"lenet5": 30, "resnet20": 20, "googlenet": 5, "resnet50": 5}
ROUNDS = 3
CALIBRATION = 32
TARGET_RATIO = 0.5
RUNTIMES = ("keras", "saved_model", "onnx", "onnx_int8", "litert", "litert_int8")


def _onnx_session(file, threads):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(file, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


def _litert_runner(file, threads):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=file, num_threads=threads)
    index = interpreter.get_input_details()[0]["index"]
    out = interpreter.get_output_details()[0]["index"]
    shape = [None]

    def run(x):
        if shape[0] != x.shape:
            interpreter.resize_tensor_input(index, x.shape)
            interpreter.allocate_tensors()
            shape[0] = x.shape
        interpreter.set_tensor(index, x)
        interpreter.invoke()
        return interpreter.get_tensor(out)
    return run


def worker(name, threads, quick, out_path):
    import keras
    import numpy as np
    import tensorflow as tf

    import kcnn
    from benchmarks._timing import latency, throughput
    from kcnn.export import export_saved_model
    from kcnn.export.portable import export_portable

    keras.utils.set_random_seed(0)
    model = kcnn.models.get_model(name)
    shape = tuple(model.input_shape[1:])
    batch, repeats, steps = BATCH[name], REPEATS[name], STEPS[name]
    if quick:
        batch, repeats, steps = min(batch, 8), 10, 2
    rng = np.random.default_rng(0)
    x1 = rng.uniform(0, 255, (1, *shape)).astype("float32")
    xb = rng.uniform(0, 255, (batch, *shape)).astype("float32")
    calibration = [rng.uniform(0, 255, (8, *shape)).astype("float32")
                   for _ in range(CALIBRATION // 8)]
    runners, sizes = {}, {}
    with tempfile.TemporaryDirectory(prefix="kcnn-deploy-") as tmp:
        runners["keras"] = lambda x: model.predict_on_batch(x / np.float32(255))
        saved = export_saved_model(model, os.path.join(tmp, "sm"), warmup=False)
        signature = tf.saved_model.load(saved.path).signatures["predict_images"]
        runners["saved_model"] = lambda x: signature(images=tf.constant(x))["probabilities"]
        for fmt, make in (("onnx", _onnx_session), ("litert", _litert_runner)):
            for quantize in (None, "int8"):
                label = fmt if quantize is None else f"{fmt}_{quantize}"
                result = export_portable(model, os.path.join(tmp, label), fmt,
                                         quantize=quantize,
                                         calibration=calibration if quantize else None)
                sizes[label] = result.size_bytes
                runners[label] = make(result.file, threads)
        if name == "resnet50":
            peer = keras.applications.ResNet50(weights=None)
            runners["keras_applications_resnet50"] = peer.predict_on_batch

        def sync(y):
            return np.asarray(y)
        lat = latency({k: ((lambda r=r: r(x1)), sync) for k, r in runners.items()},
                      repeats=repeats, warmup=3)
        rows = []
        for label, run in runners.items():
            t = throughput(lambda run=run: run(xb), sync, batch=batch, warmup=2,
                           steps=steps, rounds=1 if quick else ROUNDS)
            rows.append({"model": name, "runtime": label, "input_shape": list(shape),
                         "batch1_ms": lat[label], "throughput": t,
                         "size_bytes": sizes.get(label)})
    with open(out_path, "w") as f:
        json.dump({"model": name, "rows": rows}, f, indent=1)


def _loadavg():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def target(rows):
    """kcnn's fastest ResNet-50 export vs keras.applications ResNet50, batch 1."""
    peer = next((r for r in rows if r["runtime"] == "keras_applications_resnet50"), None)
    ours = [r for r in rows if r["model"] == "resnet50" and r["runtime"] not in
            ("keras", "keras_applications_resnet50")]
    if peer is None or not ours:
        return {"measured": False}
    best = min(ours, key=lambda r: r["batch1_ms"]["median_ms"])
    ratio = best["batch1_ms"]["median_ms"] / peer["batch1_ms"]["median_ms"]
    return {"measured": True, "fastest": best["runtime"],
            "fastest_ms": best["batch1_ms"]["median_ms"],
            "keras_applications_ms": peer["batch1_ms"]["median_ms"],
            "ratio": round(ratio, 3), "target": TARGET_RATIO, "met": ratio <= TARGET_RATIO}


def markdown(results):
    m = results["machine"]
    lines = [f"# Deployment benchmark {results['utc']}{' (quick)' if results['quick'] else ''}"
             f" (commit {results['commit']})", "",
             f"{m['cpu']}, {m['cores']} cores, {' '.join(m['vector_extensions'])}; "
             f"{results['threads']} threads; load {results['load_start']} → "
             f"{results['load_end']}; {json.dumps(results['versions'])}", "",
             "| model | runtime | batch-1 median ms | min ms | batch | images/s | MB |",
             "|---|---|---|---|---|---|---|"]
    for r in results["rows"]:
        size = "" if r["size_bytes"] is None else f"{r['size_bytes'] / 1e6:.2f}"
        lines.append(f"| {r['model']} | {r['runtime']} | {r['batch1_ms']['median_ms']} | "
                     f"{r['batch1_ms']['min_ms']} | {r['throughput']['batch']} | "
                     f"{r['throughput']['images_per_s']:.1f} | {size} |")
    t = results["target"]
    if t["measured"]:
        lines += ["", f"ResNet-50 target (batch 1, ≤ {t['target']}× keras.applications): "
                      f"fastest kcnn export `{t['fastest']}` {t['fastest_ms']} ms vs "
                      f"{t['keras_applications_ms']} ms = {t['ratio']}× → "
                      f"{'met' if t['met'] else 'missed'}."]
    else:
        lines += ["", "ResNet-50 target: not measured in this run."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.threads, args.quick, args.out)
    names = args.models or list(QUICK_MODELS if args.quick else MODELS)
    utc = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    results = {"utc": utc, "commit": git_commit(), "machine": machine(),
               "versions": versions(), "threads": args.threads, "quick": args.quick,
               "load_start": _loadavg(), "settings": {"batch": BATCH, "repeats": REPEATS,
                                                      "steps": STEPS, "rounds": ROUNDS,
                                                      "calibration_images": CALIBRATION},
               "runtime_settings": {
                   "onnx": "CPUExecutionProvider, ORT_ENABLE_ALL, ORT_SEQUENTIAL, "
                           "intra_op_num_threads=threads; int8: QDQ, uint8 activations, "
                           "int8 weights per channel",
                   "litert": "ai_edge_litert Interpreter(num_threads=threads), default "
                             "XNNPACK delegate; int8: full-integer, float32 in/out",
                   "saved_model": "export_saved_model (BatchNorm folded), predict_images",
                   "keras": "predict_on_batch, BatchNorm unfolded, logits"},
               "rows": []}
    with tempfile.TemporaryDirectory(prefix="kcnn-deploy-") as tmp:
        for name in names:
            out = os.path.join(tmp, f"{name}.json")
            command = [sys.executable, "-m", "benchmarks.deploy", "--worker", name,
                       "--threads", str(args.threads), "--out", out]
            subprocess.run(command + (["--quick"] if args.quick else []), check=True)
            with open(out) as f:
                results["rows"] += json.load(f)["rows"]
            print(f"{name}: done", flush=True)
    results["load_end"] = _loadavg()
    results["target"] = target(results["rows"])
    text = markdown(results)
    path = report.write_pair(RESULTS, f"deploy-{utc}{'-quick' if args.quick else ''}",
                             results, text)
    print(text)
    print(f"wrote {path}.json and .md")


if __name__ == "__main__":
    main()
