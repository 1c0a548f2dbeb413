"""Where a training step's time goes: oneDNN's own per-primitive timings (ONEDNN_VERBOSE).

TensorFlow (with its oneDNN ops, on by default on x86) and PyTorch both run their CPU
convolutions and matmuls through oneDNN, which, with `ONEDNN_VERBOSE=1`, prints the
execution time of every primitive. This runs one benchmark worker with it and sums the
times per primitive kind; the rest of the step is everything outside oneDNN (Eigen
element-wise ops, BatchNorm, the optimizer, framework overhead).

    python -m benchmarks.profile --case resnet50 --framework tensorflow [--xla]
    python -m benchmarks.profile --case resnet50 --framework torch
    python -m benchmarks.profile --case resnet50 --framework tensorflow --source keras_app
    python -m benchmarks.profile --case resnet50 --framework tensorflow \
        --kwargs '{"stride_in_1x1": true}' --tag before   # a kcnn variant, a named run

Writes `benchmarks/results/profile-<framework>[-xla]-<precision>-<case>[-<source>]
[-<variant>][-<tag>].json` and prints a table.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile

from benchmarks import settings
from benchmarks.run import machine
from benchmarks._timing import TIMED_MARK

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse(lines):
    """{(primitive, propagation, implementation): [count, total ms]} of the `exec` lines
    after the worker's mark that the timed steps start."""
    table = collections.defaultdict(lambda: [0, 0.0])
    if TIMED_MARK not in lines:
        raise RuntimeError("the worker printed no timed-steps mark")
    for line in lines[lines.index(TIMED_MARK) + 1:]:
        fields = line.strip().split(",")
        if not fields[0].startswith("onednn_verbose") or "exec" not in fields:
            continue
        i = fields.index("exec")
        try:
            ms = float(fields[-1])
        except ValueError:
            continue
        # exec,cpu,<primitive>,<implementation>,<propagation>,...
        key = (fields[i + 2], fields[i + 4], fields[i + 3])
        table[key][0] += 1
        table[key][1] += ms
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", required=True)
    parser.add_argument("--framework", choices=("tensorflow", "torch"), required=True)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--xla", action="store_true")
    parser.add_argument("--source", choices=("kcnn", "keras_app"), default="kcnn",
                        help="TensorFlow: kcnn's model or its keras.applications peer")
    parser.add_argument("--kwargs", default=None,
                        help="JSON of extra kcnn builder arguments (a variant)")
    parser.add_argument("--tag", default="", help="appended to the file name (before/after)")
    parser.add_argument("--output-dir", default=os.path.join(ROOT, "benchmarks", "results"))
    args = parser.parse_args(argv)
    case = settings.case("full", args.case)
    env = dict(os.environ, ONEDNN_VERBOSE="1", KCNN_BENCH_MARK_TIMED="1", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT,
               KERAS_BACKEND="tensorflow")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        if args.framework == "torch":
            command = ["-m", "benchmarks.torch_worker", "--precision", args.precision]
        else:
            command = ["-m", "benchmarks.keras_worker", "--precision", args.precision,
                       "--xla", str(int(args.xla)), "--source", args.source]
            if args.kwargs:
                command += ["--kwargs", args.kwargs]
        command = [sys.executable, *command, "--mode", "full", "--case", case.name,
                   "--task", "train", "--out", out]
        proc = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode:
            sys.exit(proc.stderr[-3000:])
        with open(out) as f:
            result = json.load(f)
    steps = result["timed_steps"]
    step_ms = 1e3 * result["step_s"]
    table = parse(proc.stdout.splitlines())
    rows = sorted(({"primitive": p, "propagation": prop, "implementation": impl,
                    "calls_per_step": round(n / steps, 1), "ms_per_step": round(ms / steps, 2)}
                   for (p, prop, impl), (n, ms) in table.items()),
                  key=lambda r: -r["ms_per_step"])
    in_onednn = sum(r["ms_per_step"] for r in rows)
    conv = sum(r["ms_per_step"] for r in rows if r["primitive"] == "convolution")
    kwargs = json.loads(args.kwargs) if args.kwargs else {}
    summary = {"case": case.name, "framework": args.framework, "precision": args.precision,
               "source": args.source if args.framework == "tensorflow" else "torchvision",
               "kcnn_kwargs": kwargs, "machine": machine(), "load_average": os.getloadavg(),
               "xla": args.xla, "batch": case.train_batch, "timed_steps": steps,
               "step_ms": round(step_ms, 1), "images_per_s": result["images_per_s"],
               "onednn_ms_per_step": round(in_onednn, 1),
               "convolution_ms_per_step": round(conv, 1),
               "outside_onednn_ms_per_step": round(step_ms - in_onednn, 1),
               "note": "oneDNN's timings under ONEDNN_VERBOSE, which itself slows a step",
               "primitives": rows}
    os.makedirs(args.output_dir, exist_ok=True)
    name = f"profile-{args.framework}{'-xla' if args.xla else ''}-{args.precision}-{case.name}"
    if args.framework == "tensorflow" and args.source != "kcnn":
        name += f"-{args.source}"
    name += "".join(f"-{k}={v}" for k, v in sorted(kwargs.items()))
    name += f"-{args.tag}" if args.tag else ""
    with open(os.path.join(args.output_dir, name + ".json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"{name}: {summary['step_ms']} ms per timed step ({steps} steps, batch "
          f"{case.train_batch}); in oneDNN {summary['onednn_ms_per_step']} ms (convolutions "
          f"{summary['convolution_ms_per_step']} ms), outside oneDNN "
          f"{summary['outside_onednn_ms_per_step']} ms")
    print("| primitive | propagation | implementation | calls/step | ms/step |")
    print("|---|---|---|---|---|")
    for r in rows[:15]:
        print(f"| {r['primitive']} | {r['propagation']} | {r['implementation']} | "
              f"{r['calls_per_step']} | {r['ms_per_step']} |")


if __name__ == "__main__":
    main()
