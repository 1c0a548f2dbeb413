"""Where a training step's time goes, per TensorFlow op type: kcnn and its peer side by side.

`benchmarks.profile` sees only oneDNN's primitives (convolutions, reorders, pooling); the
rest of a step (BatchNorm's element-wise ops and reductions, Pad and its gradient, ReLU,
the optimizer) runs in TensorFlow's own kernels. This runs the benchmark's training step
(`keras_worker`'s: kcnn.train's own) under the TensorFlow profiler and sums the time of
every op executed, by op type as it runs (after Grappler's and oneDNN's rewrites, so
fused ops appear as such), for kcnn's model and its keras.applications peer in one
process, their rounds interleaved (a loaded machine slows both alike).

    python -m benchmarks.op_profile --case resnet50 --kwargs '{"stride_in_1x1": true}' \\
        --tag before

Writes `benchmarks/results/op-profile-<case>[-<variant>][-<tag>].json` and prints the op
types that cost the most. Op times are summed over the threads that ran them (the
executor runs independent ops in parallel), so they may add up to more than a step.
"""

import argparse
import collections
import dataclasses
import glob
import json
import os
import tempfile
import time

from benchmarks import settings
from benchmarks.run import machine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NOT_OPS = ("ExecutorState::Process", "ThreadpoolListener")


def step_for(case, source):
    import keras
    import tensorflow as tf

    from benchmarks.keras_worker import build, synthetic, tf_train_step
    model = build(case, source)
    optimizer = keras.optimizers.SGD(settings.LR, momentum=settings.MOMENTUM)
    optimizer.build(model.trainable_variables)
    step = tf_train_step(model, optimizer, case.train_batch, xla=0)
    images, labels = (tf.constant(a) for a in synthetic(case, case.train_batch))
    for _ in range(case.warmup_steps):
        float(step(images, labels)[0])
    return lambda: float(step(images, labels)[0])


def profile_steps(step, steps):
    """({op type: [count, seconds]}, wall seconds) of `steps` calls of `step`."""
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        wall = time.perf_counter() - start
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        with open(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)[0], "rb") as f:
            space.ParseFromString(f.read())
    table = collections.defaultdict(lambda: [0, 0.0])
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                kind = plane.event_metadata[event.metadata_id].display_name
                if not kind or kind.startswith(_NOT_OPS):
                    continue
                table[kind][0] += 1
                table[kind][1] += event.duration_ps * 1e-12
    return table, wall


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", required=True)
    parser.add_argument("--kwargs", type=json.loads, default={},
                        help="JSON of extra kcnn builder arguments (a variant)")
    parser.add_argument("--steps", type=int, default=None,
                        help="profiled steps per round (default: the case's timed steps)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tag", default="", help="appended to the file name (before/after)")
    parser.add_argument("--output-dir", default=os.path.join(ROOT, "benchmarks", "results"))
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    keras.utils.set_random_seed(0)
    case = settings.case("full", args.case)
    case = dataclasses.replace(case, kcnn_kwargs={**case.kcnn_kwargs, **args.kwargs})
    steps = args.steps or case.timed_steps
    sources = ["kcnn"] + (["keras_app"] if case.keras_app else [])
    calls = {source: step_for(case, source) for source in sources}
    tables = {s: collections.defaultdict(lambda: [0, 0.0]) for s in sources}
    walls = {s: [] for s in sources}
    load_start = os.getloadavg()
    for _ in range(args.rounds):
        for source in sources:
            table, wall = profile_steps(calls[source], steps)
            walls[source].append(round(1e3 * wall / steps, 1))
            for kind, (n, seconds) in table.items():
                tables[source][kind][0] += n
                tables[source][kind][1] += seconds
    per_step = args.rounds * steps
    kinds = sorted(set().union(*tables.values()),
                   key=lambda k: -max(tables[s][k][1] for s in sources))
    rows = [{"op": k, **{f"{s}_calls_per_step": round(tables[s][k][0] / per_step, 1)
                         for s in sources},
             **{f"{s}_ms_per_step": round(1e3 * tables[s][k][1] / per_step, 2)
                for s in sources}} for k in kinds]
    variant = "".join(f"-{k}={v}" for k, v in sorted(args.kwargs.items()))
    name = f"op-profile-{case.name}{variant}" + (f"-{args.tag}" if args.tag else "")
    summary = {"case": case.name, "kcnn_kwargs": case.kcnn_kwargs, "batch": case.train_batch,
               "steps_per_round": steps, "rounds": args.rounds, "machine": machine(),
               "load_average_start": load_start, "load_average_end": os.getloadavg(),
               "step_ms_per_round": walls,
               "op_ms_per_step_total": {s: round(sum(r[f"{s}_ms_per_step"] for r in rows), 1)
                                        for s in sources},
               "note": "TensorFlow profiler; op times summed over threads; the profiler "
                       "itself slows a step", "ops": rows}
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, name + ".json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"{name}: step ms per round {walls}; op ms per step "
          f"{summary['op_ms_per_step_total']}")
    print("| op | " + " | ".join(f"{s} calls | {s} ms" for s in sources) + " |")
    print("|---|" + "---|---|" * len(sources))
    for r in rows[:25]:
        print(f"| {r['op']} | " + " | ".join(
            f"{r[f'{s}_calls_per_step']} | {r[f'{s}_ms_per_step']}" for s in sources) + " |")


if __name__ == "__main__":
    main()
