"""By hand: ONNX and LiteRT float32 exports agree with Keras in their runtimes (issue 13).

    python -m benchmarks.export_check                         # lenet5 resnet20 nin googlenet resnet50
    python -m benchmarks.export_check --models lenet5 resnet20
    python -m benchmarks.export_check --quickstart runs/quickstart   # + its int8 LiteRT

For each model (default input size, seeded random weights, BatchNorm statistics made
non-trivial so that folding changes the weights) both formats are exported with
`kcnn.export.portable.export_portable(..., verify=True)`: the file runs in onnxruntime /
the LiteRT interpreter in a fresh process that cannot import kcnn, on the same images as
Keras (batches of 1 and 7), and the probabilities must agree within 1e-4. The same graph
without its softmax is compared too (logits: reported, not bounded). With
`--quickstart RUN_DIR` the run's model is also quantized to int8 LiteRT (calibrated on
`CALIBRATION_IMAGES` training images): held-out top-1 before and after, sizes, and
batch-1 latency of the float32 and int8 files in the LiteRT interpreter (this process).

Writes `benchmarks/results/export-check-<UTC>.json` and `.md`.
"""

import argparse
import datetime
import json
import os
import tempfile
import time

from benchmarks import report
from benchmarks.run import RESULTS, git_commit, machine, versions

MODELS = ("lenet5", "resnet20", "nin", "googlenet", "resnet50")


def _perturb_batch_norm(model, seed=0):
    import keras
    import numpy as np

    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0, 0.1, n).astype("float32"))
            layer.moving_variance.assign(rng.uniform(1, 2, n).astype("float32"))
            layer.gamma.assign(rng.uniform(0.5, 1, n).astype("float32"))
            layer.beta.assign(rng.normal(0, 0.1, n).astype("float32"))


def check_model(name, tmp):
    import keras

    import kcnn
    from kcnn.export.portable import export_portable

    keras.utils.set_random_seed(0)
    model = kcnn.models.get_model(name)
    _perturb_batch_norm(model)
    row = {"model": name, "input_shape": list(model.input_shape[1:]),
           "params": int(model.count_params())}
    for fmt in ("onnx", "litert"):
        tic = time.perf_counter()
        result = export_portable(model, os.path.join(tmp, name, fmt), fmt, verify=True)
        v = result.verification
        row[fmt] = {"max_abs_diff": max(v["max_abs_diff"].values()),
                    "max_abs_diff_per_batch": v["max_abs_diff"],
                    "output_spread": v["output_spread"], "runtime": v["runtime"],
                    "size_bytes": result.size_bytes,
                    "export_and_verify_s": round(time.perf_counter() - tic, 1)}
        # The same graph without the softmax (told the model outputs probabilities):
        # random 1000-class models give probabilities near 1/1000, logits show more.
        raw = export_portable(model, os.path.join(tmp, name, fmt + "-logits"), fmt,
                              model_outputs="probabilities", verify=True,
                              atol=None).verification
        row[fmt].update(logits_max_abs_diff=max(raw["max_abs_diff"].values()),
                        logits_spread=raw["output_spread"])
        print(f"{name} {fmt}: max |p - p_keras| {row[fmt]['max_abs_diff']:.3g} "
              f"(spread {v['output_spread']:.3g}); logits {raw['max_abs_diff'][7]:.3g} "
              f"(spread {raw['output_spread']:.3g})", flush=True)
    return row


def check_quickstart(run_dir, tmp):
    from ai_edge_litert.interpreter import Interpreter

    from benchmarks._timing import latency
    from kcnn.export.calibration import DataSpec, calibration_batches, evaluation_data
    from kcnn.export.portable import CALIBRATION_IMAGES, export_portable
    from kcnn.preprocessing import Preprocessing
    from kcnn.saving import load_model

    model = load_model(os.path.join(run_dir, "model.keras"))
    prep = Preprocessing.load(run_dir)
    spec = DataSpec.from_run(run_dir)
    evaluation = evaluation_data(spec, prep)
    fp32 = export_portable(model, os.path.join(tmp, "qs"), "litert", preprocessing=prep,
                           verify=True, evaluation=evaluation)
    int8 = export_portable(model, os.path.join(tmp, "qs"), "litert", preprocessing=prep,
                           verify=True, quantize="int8",
                           calibration=calibration_batches(spec, prep, CALIBRATION_IMAGES),
                           evaluation=evaluation)
    x = evaluation[0][:1]
    calls = {}
    for label, result in (("fp32", fp32), ("int8", int8)):
        interpreter = Interpreter(model_path=result.file, num_threads=1)
        index = interpreter.get_input_details()[0]["index"]
        interpreter.resize_tensor_input(index, x.shape)
        interpreter.allocate_tensors()

        def call(interpreter=interpreter, index=index):
            interpreter.set_tensor(index, x)
            interpreter.invoke()
        calls[label] = (call, lambda _: None)
    times = latency(calls, repeats=300, warmup=20)
    out = {"run": os.path.abspath(run_dir), "dataset": spec.dataset,
           "calibration_images": CALIBRATION_IMAGES, "held_out_images": len(evaluation[1])}
    for label, result in (("fp32", fp32), ("int8", int8)):
        out[label] = {"top1": result.accuracy["exported_top1"],
                      "keras_top1": result.accuracy["keras_top1"],
                      "agreement_with_keras": result.accuracy["agreement"],
                      "size_bytes": result.size_bytes,
                      "max_abs_diff_synthetic": max(result.verification[
                          "max_abs_diff"].values()),
                      "batch1_latency_ms_1_thread": times[label]}
        print(f"quickstart litert {label}: top-1 {result.accuracy['exported_top1']:.2%} "
              f"(Keras {result.accuracy['keras_top1']:.2%}), {result.size_bytes} bytes, "
              f"batch-1 {times[label]['median_ms']} ms", flush=True)
    out["top1_drop_points"] = round(100 * (out["fp32"]["top1"] - out["int8"]["top1"]), 3)
    return out


def markdown(results):
    lines = [f"# Export check {results['utc']} (commit {results['commit']})", "",
             f"{results['machine']['cpu']}, {results['machine']['cores']} cores, "
             f"{' '.join(results['machine']['vector_extensions'])}; "
             f"{json.dumps(results['versions'])}", "",
             "Float32 ONNX (onnxruntime) and LiteRT (ai_edge_litert) vs Keras, fresh process "
             "without kcnn, synthetic images, batches 1 and 7; allowed 1e-4.", "",
             "| model | input | ONNX max diff | LiteRT max diff | output spread | "
             "ONNX logits diff | LiteRT logits diff | logit spread | ONNX MB | LiteRT MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["models"]:
        lines.append(f"| {r['model']} | {r['input_shape']} | {r['onnx']['max_abs_diff']:.2g} "
                     f"| {r['litert']['max_abs_diff']:.2g} | "
                     f"{r['onnx']['output_spread']:.2g} | "
                     f"{r['onnx']['logits_max_abs_diff']:.2g} | "
                     f"{r['litert']['logits_max_abs_diff']:.2g} | "
                     f"{r['onnx']['logits_spread']:.2g} | "
                     f"{r['onnx']['size_bytes'] / 1e6:.2f} | "
                     f"{r['litert']['size_bytes'] / 1e6:.2f} |")
    q = results.get("quickstart")
    if q:
        lines += ["", f"Quickstart ({q['dataset']}, {q['held_out_images']} held-out images, "
                      f"int8 calibrated on {q['calibration_images']} training images), "
                      "LiteRT interpreter, 1 thread:", "",
                  "| file | held-out top-1 | bytes | batch-1 median ms |", "|---|---|---|---|"]
        for label in ("fp32", "int8"):
            lines.append(f"| {label} | {q[label]['top1']:.2%} | {q[label]['size_bytes']} | "
                         f"{q[label]['batch1_latency_ms_1_thread']['median_ms']} |")
        lines.append(f"\nKeras top-1 {q['fp32']['keras_top1']:.2%}; int8 drop "
                     f"{q['top1_drop_points']} points.")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--quickstart", default=None, metavar="RUN_DIR")
    args = parser.parse_args(argv)
    utc = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    results = {"utc": utc, "commit": git_commit(), "machine": machine(),
               "versions": versions(), "atol": 1e-4, "models": []}
    with tempfile.TemporaryDirectory(prefix="kcnn-export-check-") as tmp:
        for name in args.models:
            results["models"].append(check_model(name, tmp))
        if args.quickstart:
            results["quickstart"] = check_quickstart(args.quickstart, tmp)
    path = report.write_pair(RESULTS, f"export-check-{utc}", results, markdown(results))
    print(f"wrote {path}.json and .md")


if __name__ == "__main__":
    main()
