"""MirroredStrategy over two logical CPUs equals one device; MultiWorkerMirroredStrategy
with two workers on 127.0.0.1 ends with equal weights, and only the chief writes."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # starts first in the two test workers (tests/conftest.py)

WORKERS = os.path.join(os.path.dirname(__file__), "_workers.py")
TIMEOUT = 240  # seconds; a hung collective must fail the test, never hang CI


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", **extra)
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _run(args, tmp_path):
    proc = subprocess.run([sys.executable, WORKERS, *args], env=_env(), capture_output=True,
                          text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.parametrize("case", ["lenet5", "syncbn"])
def test_mirrored_two_logical_cpus_equal_one_device(case, tmp_path):
    out = tmp_path / "report.json"
    _run(["mirrored", case, str(out)], tmp_path)
    report = json.loads(out.read_text())
    print(case, report)
    assert report["replicas"] == [2, 1]
    assert report["control_diff"] > 1e-3  # training (or BN statistics) really moved weights
    tolerance = 1e-5 if case == "lenet5" else 1e-7  # the sync BN case runs in float64
    assert report["max_diff"] < tolerance


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multi_worker_two_processes(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(
            [sys.executable, WORKERS, "multi_worker", str(tmp_path / f"out{index}"),
             str(tmp_path / f"weights{index}.npz")],
            env=_env(TF_CONFIG=tf_config), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=tmp_path))
    errors = []
    try:
        for proc in procs:
            _, stderr = proc.communicate(timeout=TIMEOUT)
            if proc.returncode != 0:
                errors.append(stderr[-3000:])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert not errors, "\n----\n".join(errors)
    w0, w1 = np.load(tmp_path / "weights0.npz"), np.load(tmp_path / "weights1.npz")
    assert int(w0["replicas"]) == int(w1["replicas"]) == 2
    keys = [k for k in w0.files if k.startswith("arr_")]
    assert keys and all(np.array_equal(w0[k], w1[k]) for k in keys)
    # Only the chief (worker 0) writes checkpoints and outputs.
    chief = tmp_path / "out0"
    for name in ("model.keras", "config.json", "preprocessing.json", "history.csv",
                 "curves.png", "checkpoints/latest.json"):
        assert (chief / name).is_file(), name
    other = tmp_path / "out1"
    assert not other.exists() or not any(other.rglob("*")), sorted(other.rglob("*"))
