"""Training steps of several models interleaved one by one in one process: small differences.

On a shared machine the load changes from second to second; whole-process comparisons
(`benchmarks.run`, `benchmarks.ab`) then move by more than a 5 % effect. Here every model
is built and traced first, then their training steps alternate (A, B, C, A, B, C...), so
that load slows them alike, and each one's median step time is reported.

    python -m benchmarks.interleaved --case resnet50 --kwargs '{"stride_in_1x1": true}'

Models: kcnn's (as it is), kcnn's with Keras's own BatchNormalization in every ConvBlock
(kcnn before `kcnn.layers.BatchNorm`, issue 14), and the keras.applications peer where the
case has one. Writes `benchmarks/results/interleaved-<case>[-<variant>]-<date>.json`.
"""

import argparse
import dataclasses
import datetime
import json
import os
import statistics
import time

from benchmarks import settings
from benchmarks.op_profile import step_for
from benchmarks.run import RESULTS, git_commit, machine


def _step(case, source, keras_batch_norm=False):
    """`op_profile.step_for`, with ConvBlock's BatchNorm swapped for Keras's own (the code
    before issue 14) while the model is built if `keras_batch_norm`."""
    import keras

    from kcnn.layers import conv_block
    saved = conv_block.BatchNorm
    if keras_batch_norm:
        conv_block.BatchNorm = keras.layers.BatchNormalization
    try:
        return step_for(case, source)
    finally:
        conv_block.BatchNorm = saved


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", required=True)
    parser.add_argument("--kwargs", type=json.loads, default={})
    parser.add_argument("--steps", type=int, default=12, help="timed steps per model")
    parser.add_argument("--output-dir", default=RESULTS)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    keras.utils.set_random_seed(0)
    case = settings.case("full", args.case)
    case = dataclasses.replace(case, kcnn_kwargs={**case.kcnn_kwargs, **args.kwargs})
    steps = {"kcnn": _step(case, "kcnn"),
             "kcnn, Keras BatchNormalization": _step(case, "kcnn", keras_batch_norm=True)}
    if case.keras_app:
        steps["keras.applications"] = _step(case, "keras_app")
    load_start = os.getloadavg()
    times = {name: [] for name in steps}
    for _ in range(args.steps):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(t) for name, t in times.items()}
    result = {"case": case.name, "kcnn_kwargs": case.kcnn_kwargs, "batch": case.train_batch,
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
                  timespec="seconds"), "git_commit": git_commit(), "machine": machine(),
              "load_average_start": load_start, "load_average_end": os.getloadavg(),
              "steps": args.steps, "step_s": times,
              "median_images_per_s": {n: round(case.train_batch / m, 3)
                                      for n, m in median.items()},
              # > 1: kcnn's step is that much faster than this model's
              "kcnn_images_per_s_over": {n: round(median[n] / median["kcnn"], 3)
                                         for n in median if n != "kcnn"}}
    os.makedirs(args.output_dir, exist_ok=True)
    variant = "".join(f"-{k}={v}" for k, v in sorted(args.kwargs.items()))
    stamp = result["date"].replace(":", "").replace("+0000", "Z")
    path = os.path.join(args.output_dir, f"interleaved-{case.name}{variant}-{stamp}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: result[k] for k in ("median_images_per_s", "kcnn_images_per_s_over",
                                             "load_average_start", "load_average_end")}))
    print(f"written: {path}")


if __name__ == "__main__":
    main()
