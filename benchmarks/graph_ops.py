"""Operations in a model's traced training step, counted by type: cheap and not noisy.

Traces the benchmark's training step (`keras_worker`'s, kcnn.train's own) for a kcnn model
and, side by side, its keras.applications peer, and counts the operations of the step's
graph by type (function bodies included: the gradient and the forward pass are inlined
in one graph as TensorFlow runs them, before Grappler's rewrites).

    python -m benchmarks.graph_ops --case resnet50 --kwargs '{"stride_in_1x1": true}'

Writes `benchmarks/results/graph-ops-<case>[-<variant>][-<tag>].json` and prints the types whose
counts differ.
"""

import argparse
import collections
import json
import os

from benchmarks import settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def op_counts(case, source):
    """{op type: count} of the traced training step of `case`'s model from `source`."""
    import keras
    import tensorflow as tf

    from benchmarks.keras_worker import build, synthetic, tf_train_step
    keras.backend.clear_session()
    model = build(case, source)
    optimizer = keras.optimizers.SGD(settings.LR, momentum=settings.MOMENTUM)
    optimizer.build(model.trainable_variables)
    step = tf_train_step(model, optimizer, case.train_batch, xla=0)
    images, labels = synthetic(case, case.train_batch)
    graph = step.get_concrete_function(tf.constant(images), tf.constant(labels)).graph
    counts = collections.Counter()
    defs = {f.signature.name: f for f in graph.as_graph_def().library.function}

    def walk(nodes, seen):
        for node in nodes:
            counts[node.op] += 1
            for attr in node.attr.values():   # bodies of called functions (f, then_branch…)
                names = [attr.func.name] if attr.HasField("func") else [
                    f.name for f in attr.list.func]
                for name in names:
                    if name in defs and name not in seen:
                        walk(defs[name].node_def, seen | {name})
            if node.op in defs and node.op not in seen:
                walk(defs[node.op].node_def, seen | {node.op})

    walk(graph.as_graph_def().node, frozenset())
    return dict(counts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", required=True)
    parser.add_argument("--kwargs", type=json.loads, default={},
                        help="JSON of kcnn builder arguments (a variant)")
    parser.add_argument("--tag", default="", help="appended to the file name (before/after)")
    parser.add_argument("--output-dir", default=os.path.join(ROOT, "benchmarks", "results"))
    args = parser.parse_args(argv)
    import dataclasses
    case = settings.case("full", args.case)
    case = dataclasses.replace(case, kcnn_kwargs={**case.kcnn_kwargs, **args.kwargs})
    sources = ["kcnn"] + (["keras_app"] if case.keras_app else [])
    counts = {source: op_counts(case, source) for source in sources}
    types = sorted(set().union(*counts.values()))
    rows = [{"op": t, **{s: counts[s].get(t, 0) for s in sources}} for t in types]
    variant = "-".join(f"{k}={v}" for k, v in sorted(args.kwargs.items()))
    name = f"graph-ops-{case.name}" + (f"-{variant}" if variant else "")
    name += f"-{args.tag}" if args.tag else ""
    summary = {"case": case.name, "kcnn_kwargs": case.kcnn_kwargs, "batch": case.train_batch,
               "totals": {s: sum(counts[s].values()) for s in sources}, "ops": rows}
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, name + ".json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"{name}: total ops {summary['totals']}")
    print("| op | " + " | ".join(sources) + " |")
    print("|---|" + "---|" * len(sources))
    for r in rows:
        if len(sources) == 1 or len({r[s] for s in sources}) > 1:
            print(f"| {r['op']} | " + " | ".join(str(r[s]) for s in sources) + " |")


if __name__ == "__main__":
    main()
