"""kcnn before and after a change, trained side by side in one run: is it faster, or slower?

    python -m benchmarks.ab --before 231b8ad --models alexnet googlenet resnet50 vgg16

Exports kcnn (and the benchmark workers) at the commit `--before` into a temporary folder
(`git archive`, the working tree is not touched) and runs `keras_worker`'s fp32 training
measurement for every model with the old code and with this checkout's, alternately (old,
new, old, new: `--repeats` times), plus the keras.applications peer where the case has one,
so that a machine's load slows both sides alike. For resnet50 the `stride_in_1x1=True`
variant (keras.applications' topology) is measured too. With `--torch-python PYTHON` (a
venv with torch and torchvision) the torchvision peer of each model is measured in the same
alternation, so every ratio of the issue-14 acceptance comes from one run.

Writes `benchmarks/results/ab-<date>.json` and `.md`: every measurement, and per model the
best images/s of each side and their ratios (after / before; kcnn / keras.applications, in
images/s and in multiply-accumulates per second).
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tarfile
import tempfile

from benchmarks import report, settings
from benchmarks.run import RESULTS, ROOT, _torch_versions, git_commit, machine, versions

VARIANTS = {"resnet50": [{"stride_in_1x1": True}]}


def export_commit(commit, directory):
    """kcnn/ and benchmarks/ of `commit` under `directory` (nothing else is needed)."""
    archive = subprocess.run(["git", "archive", commit, "kcnn", "benchmarks"], cwd=ROOT,
                             capture_output=True, check=True).stdout
    path = os.path.join(directory, "code.tar")
    with open(path, "wb") as f:
        f.write(archive)
    with tarfile.open(path) as tar:
        tar.extractall(directory, filter="data")
    os.remove(path)


def measure(code, case, source, kwargs, timeout, torch_python=None):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        if source == "torchvision":
            command = [torch_python, "-m", "benchmarks.torch_worker", "--mode", "full",
                       "--case", case, "--task", "train", "--precision", "fp32",
                       "--channels-last", "0", "--out", out]
        else:
            command = [sys.executable, "-m", "benchmarks.keras_worker", "--mode", "full",
                       "--case", case, "--task", "train", "--source", source, "--out", out]
        if kwargs:
            command += ["--kwargs", json.dumps(kwargs)]
        env = dict(os.environ, PYTHONPATH=code, TF_CPP_MIN_LOG_LEVEL="2",
                   KERAS_BACKEND="tensorflow")
        proc = subprocess.run(command, env=env, cwd=code, capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode:
            return {"error": proc.stderr[-2000:]}
        with open(out) as f:
            return json.load(f)


def markdown(results):
    m = results["machine"]
    lines = [f"# kcnn before / after ({results['date']})", "",
             f"- before: {results['before']}, after: {results['after']} (this checkout"
             f"{', with uncommitted changes' if results['dirty'] else ''})",
             f"- machine: {m['cpu']}, {m['cores']} cores, vector extensions: "
             f"{' '.join(m['vector_extensions'])}",
             f"- load average at start {results['load_average_start']}, at end "
             f"{results['load_average_end']}; fp32 training images/s, best of "
             f"{results['repeats']} alternated measurements per side (each the best of "
             f"{settings.ROUNDS['full']} rounds)", "",
             "| model | before | after | after / before | keras.applications | "
             "after / keras.applications | the same, per MAC | torchvision | "
             "before / torchvision | after / torchvision |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in results["summary"]:
        lines.append(f"| {row['label']} | {row['before']} | {row['after']} | "
                     f"{row['after_over_before']} | {row.get('keras_app', '—')} | "
                     f"{row.get('after_over_keras_app', '—')} | "
                     f"{row.get('after_over_keras_app_per_mac', '—')} | "
                     f"{row.get('torchvision', '—')} | "
                     f"{row.get('before_over_torchvision', '—')} | "
                     f"{row.get('after_over_torchvision', '—')} |")
    return "\n".join(lines) + "\n"


def summarize(results):
    """Per model (label): the best images/s of each side and the ratios."""
    rows = results["rows"]

    def best(label, side):
        values = [r["images_per_s"] for r in rows
                  if r["label"] == label and r["side"] == side and "images_per_s" in r]
        return round(max(values), 2) if values else None

    def macs(label, side):
        return next((r["macs"] for r in rows
                     if r.get("macs") and r["label"] == label and r["side"] == side), None)

    summary = []
    for label in dict.fromkeys(r["label"] for r in rows):
        model = label.split()[0]
        row = {"label": label, "before": best(label, "before"), "after": best(label, "after")}
        row["after_over_before"] = (round(row["after"] / row["before"], 3)
                                    if row["after"] and row["before"] else None)
        app = best(model, "keras_app")
        if app and row["after"]:
            row["keras_app"] = app
            row["after_over_keras_app"] = round(row["after"] / app, 3)
            if macs(label, "after") and macs(model, "keras_app"):  # MACs per second
                row["after_over_keras_app_per_mac"] = round(
                    row["after"] * macs(label, "after") / (app * macs(model, "keras_app")), 3)
        torch = best(model, "torchvision")
        if torch and " " not in label:  # torchvision's is the default topology
            row["torchvision"] = torch
            for side in ("before", "after"):
                if row[side]:
                    row[f"{side}_over_torchvision"] = round(row[side] / torch, 3)
        summary.append(row)
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="the commit to compare with")
    parser.add_argument("--models", nargs="+", default=["alexnet", "googlenet", "resnet50",
                                                        "vgg16"])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--torch-python", metavar="PYTHON",
                        help="also measure each model's torchvision peer, with this "
                             "interpreter (a venv with torch and torchvision)")
    parser.add_argument("--output-dir", default=RESULTS)
    args = parser.parse_args(argv)
    torch_versions = _torch_versions(args.torch_python) if args.torch_python else {}
    if torch_versions is None:
        parser.error(f"--torch-python {args.torch_python!r}: cannot import torch and "
                     "torchvision with it.")
    cases = settings.cases("full", args.models)
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "kcnn", "benchmarks"],
                                cwd=ROOT, capture_output=True, text=True).stdout.strip())
    started = datetime.datetime.now(datetime.timezone.utc)
    results = {"date": started.isoformat(timespec="seconds"), "before": args.before,
               "after": git_commit(), "dirty": dirty, "repeats": args.repeats,
               "machine": machine(), "torch_python": args.torch_python,
               "versions": {**versions(), **torch_versions},
               "load_average_start": [round(v, 2) for v in os.getloadavg()], "rows": []}
    jobs = []
    for case in cases:
        for kwargs in [{}] + VARIANTS.get(case.name, []):
            label = case.name + "".join(f" {k}={v}" for k, v in kwargs.items())
            jobs += [(label, case.name, "kcnn", kwargs, side) for side in ("before", "after")]
            if case.keras_app and not kwargs:  # a variant is compared with the same row
                jobs.append((label, case.name, "keras_app", {}, "keras_app"))
            if args.torch_python and case.torch_name and not kwargs:
                jobs.append((label, case.name, "torchvision", {}, "torchvision"))
    with tempfile.TemporaryDirectory() as old:
        export_commit(args.before, old)
        for repeat in range(args.repeats):
            for label, name, source, kwargs, side in jobs:
                code = old if side == "before" else ROOT
                result = measure(code, name, source, kwargs, args.timeout,
                                 args.torch_python)
                row = {"label": label, "model": name, "side": side, "repeat": repeat,
                       "load_average": round(os.getloadavg()[0], 2), **result}
                results["rows"].append(row)
                print(f"{label} {side}: {result.get('images_per_s', 'error')}", flush=True)
    results["load_average_end"] = [round(v, 2) for v in os.getloadavg()]

    summary = summarize(results)
    results["summary"] = summary
    stamp = results["date"].replace(":", "").replace("+0000", "Z")
    text = markdown(results)
    base = report.write_pair(args.output_dir, f"ab-{stamp}", results, text)
    print(text)
    print(f"written: {base}.json, {base}.md")
    errors = [r for r in results["rows"] if "error" in r]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
