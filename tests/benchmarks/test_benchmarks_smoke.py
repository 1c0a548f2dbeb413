"""The benchmark harness in smoke mode: tiny sizes, real measurements, one results file."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from benchmarks import report  # noqa: E402

pytestmark = pytest.mark.slow  # starts first in the two test workers (tests/conftest.py)


def _run(args, env=None, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT, **(env or {}))
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=timeout)


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = _run(["benchmarks.run", "--smoke", "--models", "lenet5", "--backends",
                 "tensorflow", "--no-torch", "--output-dir", str(out)])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(out / "latest-smoke-tensorflow.json") as f:
        results = json.load(f)
    return results, (out / "latest-smoke-tensorflow.md").read_text()


def test_one_command_writes_json_and_markdown(smoke_results):
    results, text = smoke_results
    assert results["machine"]["cores"] == os.cpu_count()
    with open("/proc/cpuinfo") as f:  # the CPU's vector extensions, read here independently
        flags = next(line for line in f if line.startswith("flags")).split(":")[1].split()
    recorded = results["machine"]["vector_extensions"]
    assert [x in recorded for x in ("avx2", "fma", "avx512f")] == [
        x in flags for x in ("avx2", "fma", "avx512f")]
    assert "vector extensions: " + " ".join(recorded) in text
    assert {"keras", "tensorflow"} <= set(results["versions"])
    assert len(results["load_average_start"]) == 3 and len(results["load_average_end"]) == 3
    assert not [r for r in results["rows"] if "error" in r]
    kinds = [(r["kind"], r.get("option")) for r in results["rows"]]
    assert ("train", "default") in kinds and ("train", "mixed_bfloat16") in kinds
    assert ("infer", "default") in kinds and ("pipeline", None) in kinds
    assert "## Training throughput" in text and "## Targets" in text


def test_measured_values_are_consistent(smoke_results):
    results, _ = smoke_results
    peak = results["matmul_peak_gflops"]["fp32"]["gflops"]
    assert peak > 0
    train = report.find(results["rows"], kind="train", model="lenet5", option="default")
    assert train["images_per_s"] > 0 and train["peak_rss_mib"] > train["framework_rss_mib"]
    # LeNet-5 at 32×32, by hand: C1 28·28·6·25 + C3 10·10·16·150 + C5 120·400 + F6 84·120
    # + output 10·84 = 416,520 MACs (pooling not counted).
    assert train["macs"] == 416_520
    expected = 6 * train["macs"] * train["images_per_s"] / 1e9 / peak
    assert train["utilization"] == pytest.approx(expected, rel=1e-2, abs=1e-4)
    infer = report.find(results["rows"], kind="infer", model="lenet5")
    assert infer["keras_latency"]["median_ms"] > 0
    assert infer["saved_model_latency"]["median_ms"] > 0
    assert "folded_saved_model_latency" not in infer  # LeNet-5 has no BatchNorm to fold
    targets = {t["target"]: t for t in results["targets"]}
    latency = targets["batch-1 latency lenet5: predict_on_batch / SavedModel ≥ 1.0"]
    assert latency["ratio"] == pytest.approx(
        infer["keras_latency"]["median_ms"] / infer["saved_model_latency"]["median_ms"],
        rel=1e-2)


def test_jax_worker_never_imports_tensorflow(tmp_path):
    out = tmp_path / "r.json"
    proc = _run(["benchmarks.keras_worker", "--mode", "smoke", "--case", "lenet5",
                 "--task", "train", "--out", str(out)], env={"KERAS_BACKEND": "jax"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["backend"] == "jax" and result["tensorflow_imported"] is False
    assert result["images_per_s"] > 0


def test_targets_compare_like_with_like():
    """Ratios and met/missed from fabricated rows (no measurement involved)."""
    def row(source, ips, precision="fp32", option="default", backend="tensorflow"):
        return {"kind": "train", "model": "resnet50", "source": source, "precision": precision,
                "option": option, "backend": backend, "images_per_s": ips, "macs": 4_000_000_000}
    results = {"mode": "full", "backends": ["tensorflow"], "rows": [
        {"kind": "peak", "backend": "tensorflow", "when": "start",
         "gflops": {"fp32": 100.0, "bf16": 200.0}},
        row("kcnn", 2.0), row("keras_app", 1.0),
        row("torchvision", 4.0, backend="torch"),
        row("kcnn", 3.0, precision="bf16", option="mixed_bfloat16"),
        row("torchvision", 1.0, precision="bf16", option="autocast_bfloat16", backend="torch"),
    ]}
    report.add_derived(results)
    got = {t["target"]: (t["ratio"], t["met"]) for t in results["targets"]}
    assert got["training resnet50 fp32: kcnn / keras.applications ≥ 1.0"] == (2.0, True)
    assert got["training resnet50 fp32: kcnn / torchvision ≥ 1.0"] == (0.5, False)
    assert got["training resnet50 bf16: kcnn / torchvision ≥ 1.0"] == (3.0, True)
    # 6 × 4 GMACs × 2 images/s = 48 GFLOP/s of a 100 GFLOP/s peak.
    assert got["ResNet-50 fp32 training ≥ 60 % of the fp32 matmul peak"] == (0.48, False)


def test_unknown_model_is_a_clear_error():
    proc = _run(["benchmarks.run", "--smoke", "--models", "resnet51"])
    assert proc.returncode == 2
    assert "unknown benchmark model(s) ['resnet51']" in proc.stderr
