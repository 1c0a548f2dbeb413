"""Derived figures (peaks, utilization, ratios, targets) and the markdown tables."""

import dataclasses
import json
import os

from benchmarks import settings

TRAIN_FLOPS_PER_MAC = 6  # forward 2 FLOPs per MAC, backward twice the forward


def settings_table(mode):
    return {"cases": [dataclasses.asdict(c) for c in settings.cases(mode)],
            "optimizer": f"SGD lr={settings.LR} momentum={settings.MOMENTUM}",
            "loss": "softmax cross-entropy on logits",
            "data": "synthetic float32 images, one batch reused (model alone)",
            "rounds": f"training: best of {settings.ROUNDS[mode]} timed rounds",
            "latency_repeats": settings.LATENCY_REPEATS[mode],
            "matmul_n": settings.MATMUL_SIZES[mode], "pipeline": settings.PIPELINE[mode],
            "option_models": list(settings.OPTION_MODELS[mode])}


def find(rows, **match):
    for row in rows:
        if "error" not in row and all(row.get(k) == v for k, v in match.items()):
            return row
    return None


def _ratio(a, b):
    return round(a / b, 3) if a and b else None


def add_derived(results):
    """Adds `matmul_peak_gflops`, per-row `utilization`, and `targets` to `results`."""
    rows = results["rows"]
    peaks = {}
    for row in rows:
        if row["kind"] == "peak" and "error" not in row:
            for dtype, value in row["gflops"].items():
                if value > peaks.get(dtype, {}).get("gflops", 0):
                    peaks[dtype] = {"gflops": value, "framework": row["backend"],
                                    "when": row["when"]}
    results["matmul_peak_gflops"] = peaks
    macs = {}
    for row in rows:
        if row["kind"] in ("train", "infer") and row.get("macs"):
            macs.setdefault((row["model"], row["source"]), row["macs"])
    for row in rows:
        if row["kind"] != "train" or "error" in row:
            continue
        source = "kcnn" if row["source"] == "torchvision" else row["source"]
        m = macs.get((row["model"], source))
        peak = peaks.get(row["precision"], {}).get("gflops")
        if m and peak:
            row["train_gflops"] = round(TRAIN_FLOPS_PER_MAC * m * row["images_per_s"] / 1e9, 2)
            row["utilization"] = round(row["train_gflops"] / peak, 4)
    results["targets"] = targets(results)


def targets(results):
    rows, out = results["rows"], []
    backend = results["backends"][0]

    def train(model, source, precision="fp32", option=None):
        option = option or ("default" if precision == "fp32" else
                            "autocast_bfloat16" if source == "torchvision" else "mixed_bfloat16")
        row = find(rows, kind="train", model=model, source=source, precision=precision,
                   option=option, backend="torch" if source == "torchvision" else backend)
        return row and row["images_per_s"]

    for case in settings.cases(results["mode"], results.get("models")):
        for peer, name in (("keras_app", case.keras_app), ("torchvision", case.torch_name)):
            if not name:
                continue
            for precision in ("fp32", "bf16"):
                ratio = _ratio(train(case.name, "kcnn", precision), train(case.name, peer,
                                                                          precision))
                if ratio is not None:
                    out.append({"target": f"training {case.name} {precision}: kcnn / "
                                f"{'keras.applications' if peer == 'keras_app' else 'torchvision'}"
                                f" ≥ 1.0", "ratio": ratio, "met": ratio >= 1.0,
                                "primary": precision == "fp32"})
    v1 = train("resnet50", "kcnn", option="stride_in_1x1=True")
    ratio = _ratio(v1, train("resnet50", "keras_app"))
    if ratio is not None:
        out.append({"target": "training resnet50 fp32, kcnn with stride_in_1x1=True (the "
                    "keras.applications topology) / keras.applications ≥ 1.05", "ratio": ratio,
                    "met": ratio >= 1.05, "primary": True})
    kcnn50, app50 = (find(rows, kind="train", model="resnet50", source=source,
                          precision="fp32", option="default", backend=backend)
                     for source in ("kcnn", "keras_app"))
    if kcnn50 and app50 and kcnn50.get("macs") and app50.get("macs"):
        ratio = _ratio(kcnn50["images_per_s"] * kcnn50["macs"],
                       app50["images_per_s"] * app50["macs"])
        out.append({"target": "training resnet50 fp32, MACs/s: kcnn (v1.5) / "
                    "keras.applications (v1) ≥ 1.0", "ratio": ratio, "met": ratio >= 1.0,
                    "primary": True})
    resnet50 = find(rows, kind="train", model="resnet50", source="kcnn", precision="fp32",
                    option="default", backend=backend)
    if resnet50 and "utilization" in resnet50:
        out.append({"target": "ResNet-50 fp32 training ≥ 60 % of the fp32 matmul peak",
                    "ratio": resnet50["utilization"], "met": resnet50["utilization"] >= 0.6,
                    "primary": True})
    for case in settings.cases(results["mode"], results.get("models")):
        row = find(rows, kind="infer", model=case.name, source="kcnn", backend="tensorflow")
        if row and "saved_model_latency" in row:
            # The exporter's default: BatchNorm folded where the model has any.
            exported = row.get("folded_saved_model_latency", row["saved_model_latency"])
            ratio = _ratio(row["keras_latency"]["median_ms"], exported["median_ms"])
            out.append({"target": f"batch-1 latency {case.name}: predict_on_batch / "
                        "SavedModel ≥ 1.0", "ratio": ratio, "met": ratio >= 1.0,
                        "primary": True})
    pipe = find(rows, kind="pipeline")
    resnet20 = train("resnet20", "kcnn")
    if pipe and resnet20:
        ratio = _ratio(pipe["pipeline_alone"]["images_per_s"], resnet20)
        out.append({"target": "CIFAR pipeline images/s ≥ 3 × resnet20 training images/s",
                    "ratio": ratio, "met": ratio >= 3.0, "primary": True})
    return out


def _fmt(value, digits=1):
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def markdown(results):
    rows = results["rows"]
    m = results["machine"]
    lines = [f"# kcnn benchmark ({results['mode']}), {results['date']}", "",
             f"- command: `{results['command']}`, commit {results['git_commit']}",
             f"- machine: {m['cpu']}{' (' + m['vendor'] + ')' if m.get('vendor') else ''}, "
             f"{m['cores']} cores, {m['memory_gib']} GiB; vector extensions: "
             f"{' '.join(m['vector_extensions']) if 'vector_extensions' in m else 'not recorded'}"
             f" (AVX512_BF16={m['avx512_bf16']}, AMX={m['amx_bf16']}); {m['platform']}. "
             "Ratios are comparable only within one run: another CPU is another measurement",
             "- versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()),
             f"- load average (1, 5, 15 min) at start {results['load_average_start']}, at end "
             f"{results['load_average_end']}; total {results['total_s']} s",
             "- matmul peak (GFLOP/s, best of the frameworks, start and end of the run): "
             + ", ".join(f"{k} {v['gflops']} ({v['framework']})"
                         for k, v in results["matmul_peak_gflops"].items()),
             f"- training: {results['settings']['optimizer']}, "
             f"{results['settings']['loss']}, {results['settings']['data']}; "
             f"images/s after the warm-up steps, {results['settings'].get('rounds', '')}", ""]
    backends = results["backends"]
    cases = settings.cases(results["mode"], results.get("models"))

    def ips(**match):
        row = find(rows, **match)
        return row and row.get("images_per_s")

    lines += ["## Training throughput (images/s)", ""]
    header = ["model", "batch", "MMACs"]
    cols = []
    for b in backends:
        cols += [(f"kcnn {b} fp32", dict(source="kcnn", backend=b, precision="fp32",
                                         option="default")),
                 (f"kcnn {b} bf16", dict(source="kcnn", backend=b, precision="bf16"))]
        if b == "tensorflow":
            cols.append(("kcnn tf fp32 XLA", dict(source="kcnn", backend=b, option="xla")))
    if "tensorflow" in backends:
        cols += [("keras.app fp32", dict(source="keras_app", precision="fp32")),
                 ("keras.app bf16", dict(source="keras_app", precision="bf16"))]
    if results["torch_peers"]:
        cols += [("torch fp32", dict(source="torchvision", option="default")),
                 ("torch bf16", dict(source="torchvision", precision="bf16")),
                 ("torch fp32 ch-last", dict(source="torchvision", option="channels_last"))]
    lines += ["| " + " | ".join(header + [c[0] for c in cols]) + " |",
              "|" + "---|" * (len(header) + len(cols))]
    for case in cases:
        kc = find(rows, kind="train", model=case.name, source="kcnn", precision="fp32")
        cells = [case.name, str(case.train_batch),
                 _fmt(kc and kc.get("macs") and kc["macs"] / 1e6, 1)]
        cells += [_fmt(ips(kind="train", model=case.name, **match)) for _, match in cols]
        lines.append("| " + " | ".join(cells) + " |")

    lines += ["", "## Utilization (training FLOP/s = 6 × MACs × images/s, over the matmul "
              "peak of the same precision) and peak memory (process RSS, MiB)", "",
              "| model | framework | backend | precision | option | GFLOP/s | utilization |"
              " peak RSS |", "|---|---|---|---|---|---|---|---|"]
    for case in cases:
        for row in rows:
            if row["kind"] == "train" and row.get("model") == case.name and "error" not in row:
                lines.append(f"| {case.name} | {row['source']} | {row['backend']} | "
                             f"{row['precision']} | {row['option']} | "
                             f"{_fmt(row.get('train_gflops'))} | "
                             f"{_fmt(row.get('utilization') and 100 * row['utilization'])} % | "
                             f"{_fmt(row.get('peak_rss_mib'), 0)} |")

    lines += ["", "## Inference (fp32): images/s at a large batch, batch-1 latency (median ms)",
              "", "| model | batch | framework | backend | images/s | predict_on_batch / "
              "torch | SavedModel | predict_on_batch, BN folded | SavedModel, BN folded |",
              "|---|---|---|---|---|---|---|---|---|"]
    for case in cases:
        for row in rows:
            if row["kind"] == "infer" and row.get("model") == case.name and "error" not in row:
                lat = row.get("keras_latency") or row.get("latency")
                lines.append(
                    f"| {case.name} | {case.infer_batch} | {row['source']} | {row['backend']} | "
                    f"{_fmt(row['images_per_s'])} | {_fmt(lat['median_ms'], 2)} | "
                    f"{_fmt(row.get('saved_model_latency', {}).get('median_ms'), 2)} | "
                    f"{_fmt(row.get('folded_keras_latency', {}).get('median_ms'), 2)} | "
                    f"{_fmt(row.get('folded_saved_model_latency', {}).get('median_ms'), 2)} |")

    pipe = find(rows, kind="pipeline")
    if pipe:
        lines += ["", "## CIFAR input pipeline (kcnn.data, pad-crop-flip, batch "
                  f"{pipe['pipeline_alone']['batch']})", "",
                  "| pipeline alone | resnet20 alone (synthetic) | resnet20 fed by the pipeline |",
                  "|---|---|---|",
                  f"| {_fmt(pipe['pipeline_alone']['images_per_s'])} | "
                  f"{_fmt(ips(kind='train', model='resnet20', source='kcnn', precision='fp32', option='default', backend='tensorflow'))} | "
                  f"{_fmt(pipe['resnet20_fed_by_pipeline']['images_per_s'])} |"]
    lines += ["", "## Targets (ratios from this run)", "", "| target | ratio | met |",
              "|---|---|---|"]
    for t in results["targets"]:
        lines.append(f"| {t['target']}{'' if t['primary'] else ' (same precision, info)'} | "
                     f"{_fmt(t['ratio'], 3)} | {'met' if t['met'] else 'MISSED'} |")
    errors = [r for r in rows if "error" in r]
    if errors:
        lines += ["", "## Errors", ""] + [
            f"- {r['kind']} {r.get('source', r['backend'])} {r.get('model', '')} "
            f"{r.get('option', '')}: {r['error'].strip().splitlines()[-1]}" for r in errors]
    return "\n".join(lines) + "\n"


def write_pair(directory, name, results, text):
    """Writes `directory/name.json` (the results) and `directory/name.md` (their text), as
    every results file comes; returns `directory/name`."""
    os.makedirs(directory, exist_ok=True)
    base = os.path.join(directory, name)
    with open(base + ".json", "w") as f:
        json.dump(results, f, indent=1)
    with open(base + ".md", "w") as f:
        f.write(text)
    return base


def write(results, directory):
    os.makedirs(directory, exist_ok=True)
    stamp = results["date"].replace(":", "").replace("+0000", "Z")
    tag = results["mode"] + ("-" + "-".join(results["backends"])
                             if results["backends"] != ["tensorflow", "jax"] else "")
    tag += "-train" if results.get("train_only") else ""
    paths = []
    text = markdown(results)
    for name in (f"{tag}-{stamp}", f"latest-{tag}"):
        for ext, content in (("json", json.dumps(results, indent=1)), ("md", text)):
            path = os.path.join(directory, f"{name}.{ext}")
            with open(path, "w") as f:
                f.write(content)
            paths.append(path)
    return paths


BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def update_docs(results_json, docs_path):
    """Replaces the tables between the markers of `docs_path` with those of `results_json`."""
    with open(results_json) as f:
        results = json.load(f)
    with open(docs_path) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{docs_path} has no {BEGIN} ... {END} markers.")
    tables = markdown(results).split("\n", 1)[1].replace("\n## ", "\n### ")
    head, rest = text.split(BEGIN, 1)
    text = (head + BEGIN + f"\nFrom `{os.path.relpath(results_json, os.path.dirname(docs_path))}`"
            f" ({results['mode']} run of {results['date']}).\n" + tables + END
            + rest.split(END, 1)[1])
    with open(docs_path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description="Copies a results file's tables into the docs.")
    parser.add_argument("results_json", nargs="?", default=os.path.join(
        os.path.dirname(__file__), "results", "latest-full.json"))
    parser.add_argument("--docs", default=os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "performance.md"))
    args = parser.parse_args()
    update_docs(args.results_json, args.docs)
    print(f"updated {args.docs} from {args.results_json}")
