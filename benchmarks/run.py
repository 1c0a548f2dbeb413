"""The whole benchmark in one command: every measurement in its own process, one results file.

    python -m benchmarks.run                    # full CPU run: TensorFlow, then JAX (kcnn only)
    KERAS_BACKEND=jax python -m benchmarks.run  # kcnn on JAX (+ torchvision), no TensorFlow
    python -m benchmarks.run --smoke            # seconds: checks the harness (the tests run it)

Writes `benchmarks/results/<mode>-<date>.json` and `.md`, and `latest-<mode>.json/.md`.
This process imports no framework: each worker does, so that its peak memory is its own
and `KERAS_BACKEND=jax` runs never import TensorFlow.
"""

import argparse
import datetime
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

from benchmarks import report, settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")


def _has(module):
    return importlib.util.find_spec(module) is not None


def plan(mode, backends, names=None, torch=True, train_only=False):
    """The list of jobs: dicts of worker module, arguments, backend and row labels.

    `train_only`: fp32 training only (kcnn's defaults and variants, the keras.applications
    and torchvision peers), no bf16, XLA, batch, channels-last or inference rows."""
    jobs = []
    frameworks = [b for b in backends]
    if torch:
        frameworks.append("torch")
    for framework in frameworks:
        jobs.append({"kind": "peak", "module": "benchmarks.peak_worker",
                     "args": ["--framework", framework], "backend": framework,
                     "when": "start"})
    option_models = settings.OPTION_MODELS[mode]
    for case in settings.cases(mode, names):
        for backend in backends:
            def keras_job(task, source="kcnn", precision="fp32", xla=0, option="default",
                          extra=()):
                jobs.append({"kind": task, "module": "benchmarks.keras_worker",
                             "backend": backend, "model": case.name, "source": source,
                             "precision": precision, "option": option,
                             "args": ["--case", case.name, "--task", task, "--source", source,
                                      "--precision", precision, "--xla", str(xla), *extra]})
            keras_job("train")
            if not train_only:
                keras_job("train", precision="bf16", option="mixed_bfloat16")
            if backend == "tensorflow" and case.name in option_models and not train_only:
                keras_job("train", xla=1, option="xla")
            large = settings.LARGE_BATCH_OPTION[mode].get(case.name)
            if backend == "tensorflow" and large and not train_only:
                keras_job("train", option=f"batch{large}", extra=["--train-batch", str(large)])
            for key, value in settings.VARIANT_OPTION[mode].get(case.name, {}).items():
                if backend == "tensorflow":
                    keras_job("train", option=f"{key}={value}",
                              extra=["--kwargs", json.dumps({key: value})])
            if not train_only:
                keras_job("infer")
            if backend == "tensorflow" and case.keras_app:
                keras_job("train", source="keras_app")
                if not train_only:
                    keras_job("train", source="keras_app", precision="bf16",
                              option="mixed_bfloat16")
                    keras_job("infer", source="keras_app")
        if torch and case.torch_name:
            def torch_job(task, precision="fp32", channels_last=0, option="default"):
                jobs.append({"kind": task, "module": "benchmarks.torch_worker",
                             "backend": "torch", "model": case.name, "source": "torchvision",
                             "precision": precision, "option": option,
                             "args": ["--case", case.name, "--task", task, "--precision",
                                      precision, "--channels-last", str(channels_last)]})
            torch_job("train")
            if not train_only:
                torch_job("train", precision="bf16", option="autocast_bfloat16")
                if case.name in option_models:
                    torch_job("train", channels_last=1, option="channels_last")
                torch_job("infer")
    if "tensorflow" in backends:
        jobs.append({"kind": "pipeline", "module": "benchmarks.pipeline_worker", "args": [],
                     "backend": "tensorflow"})
    if mode == "full":  # the peak again at the end: did the machine change during the run?
        # (A smoke run takes seconds; its one peak checks the worker.)
        for framework in frameworks:
            jobs.append({"kind": "peak", "module": "benchmarks.peak_worker",
                         "args": ["--framework", framework], "backend": framework,
                         "when": "end"})
    return jobs


def run_job(job, mode, timeout, torch_python=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
    python = torch_python if job["backend"] == "torch" and torch_python else sys.executable
    if job["backend"] in ("tensorflow", "jax"):
        env["KERAS_BACKEND"] = job["backend"]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        command = [python, "-m", job["module"], "--mode", mode, *job["args"],
                   "--out", out]
        tic = time.perf_counter()
        try:
            proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=timeout)
            error = None if proc.returncode == 0 else proc.stderr[-2000:]
        except subprocess.TimeoutExpired:
            error = f"timed out after {timeout} s"
        seconds = round(time.perf_counter() - tic, 1)
        result = {}
        if error is None:
            with open(out) as f:
                result = json.load(f)
    row = {k: v for k, v in job.items() if k not in ("module", "args")}
    row.update(result, wall_s=seconds)
    if error is not None:
        row["error"] = error
    return row


# The CPU's vector extensions that decide which kernels oneDNN, Eigen and XLA run: ratios
# measured on CPUs that differ in these are different measurements.
VECTOR_EXTENSIONS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw",
                     "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni",
                     "amx_tile", "amx_bf16", "amx_int8", "amx_fp16")


def machine():
    """The CPU (model, vendor, vector extensions from /proc/cpuinfo), cores and memory."""
    flags = set()
    model, vendor = platform.processor(), ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model == platform.processor():
                    model = value.strip()
                elif key == "vendor_id" and not vendor:
                    vendor = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return {"cpu": model, "vendor": vendor, "cores": os.cpu_count(),
            "memory_gib": round(mem_kib / 2**20, 1),
            "vector_extensions": [x for x in VECTOR_EXTENSIONS if x in flags],
            "avx512_bf16": "avx512_bf16" in flags, "amx_bf16": "amx_bf16" in flags,
            "platform": platform.platform(), "python": platform.python_version()}


def _torch_versions(python):
    """torch's and torchvision's versions in another interpreter, or None if it lacks them."""
    code = "import torch, torchvision; print(torch.__version__, torchvision.__version__)"
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True,
                             timeout=300, check=True).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return dict(zip(("torch", "torchvision"), out))


def versions():
    from importlib.metadata import PackageNotFoundError, version
    found = {}
    for name in ("kcnn", "keras", "tensorflow", "jax", "jaxlib", "torch", "torchvision",
                 "numpy"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: seconds, not minutes")
    parser.add_argument("--models", nargs="+", help="only these models (default: all)")
    parser.add_argument("--backends", help="comma-separated Keras backends (tensorflow,jax); "
                        "default: both, or only jax when KERAS_BACKEND=jax")
    parser.add_argument("--no-torch", action="store_true", help="skip the torchvision peers")
    parser.add_argument("--torch-python", metavar="PYTHON",
                        help="run the torchvision peers with this interpreter (a venv with "
                             "torch and torchvision; its workers import neither kcnn nor "
                             "Keras); default: this one")
    parser.add_argument("--train-only", action="store_true",
                        help="fp32 training rows only (kcnn, its variants and its peers)")
    parser.add_argument("--output-dir", default=RESULTS)
    parser.add_argument("--timeout", type=int, default=900, help="seconds per worker")
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "full"
    if args.backends:
        backends = args.backends.split(",")
        bad = set(backends) - {"tensorflow", "jax"}
        if bad:
            parser.error(f"unknown backend(s) {sorted(bad)}; use tensorflow and/or jax.")
    elif os.environ.get("KERAS_BACKEND") == "jax":
        backends = ["jax"]
    else:
        backends = ["tensorflow"] + (["jax"] if _has("jax") else [])
    try:
        settings.cases(mode, args.models)
    except ValueError as error:
        parser.error(str(error))
    torch_versions = None
    if args.torch_python and not args.no_torch:
        torch_versions = _torch_versions(args.torch_python)
        if torch_versions is None:
            parser.error(f"--torch-python {args.torch_python!r}: cannot import torch and "
                         "torchvision with it.")
    torch = not args.no_torch and (torch_versions is not None
                                   or (_has("torch") and _has("torchvision")))
    jobs = plan(mode, backends, args.models, torch=torch, train_only=args.train_only)
    started = datetime.datetime.now(datetime.timezone.utc)
    results = {"mode": mode, "date": started.isoformat(timespec="seconds"),
               "command": " ".join(["python -m benchmarks.run", *(argv or sys.argv[1:])]),
               "backends": backends, "models": args.models, "torch_peers": torch,
               "train_only": args.train_only, "git_commit": git_commit(),
               "machine": machine(), "versions": {**versions(), **(torch_versions or {})},
               "load_average_start": [round(v, 2) for v in os.getloadavg()],
               "settings": report.settings_table(mode), "rows": []}
    tic = time.perf_counter()
    for i, job in enumerate(jobs, 1):
        row = run_job(job, mode, args.timeout, args.torch_python)
        results["rows"].append(row)
        status = f"error: {row['error'].splitlines()[-1]}" if "error" in row else "ok"
        print(f"[{i}/{len(jobs)}] {row['kind']} {row.get('source', row['backend'])} "
              f"{row.get('model', '')} {row.get('option', '')} ({row['wall_s']} s): {status}",
              flush=True)
    results["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    results["total_s"] = round(time.perf_counter() - tic, 1)
    report.add_derived(results)
    paths = report.write(results, args.output_dir)
    print(report.markdown(results))
    print("written: " + ", ".join(paths))
    errors = [r for r in results["rows"] if "error" in r]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
