"""A running `kcnn train` holds its output folder: a second run into it fails at once and
changes nothing; Ctrl-C ends it with one line that says where the same command resumes,
and the same command does resume there. (A kill -9'd holder leaves no stale lock:
tests/train/test_resume.py::test_sigkill_and_rerun_equals_uninterrupted.)"""

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import latest_checkpoint_step

from kcnn import cli
from kcnn.train.lock import LOCK_FILE, OutputDirLocked, RunLock

pytestmark = pytest.mark.slow  # a training process; starts first (tests/conftest.py)

TIMEOUT = 240
EPOCHS = 6


def _argv(output):
    return ["train", "--output", str(output), "--epochs", str(EPOCHS), "--batch-size", "4",
            "--set", "max_steps_per_epoch=2", "--set", "max_eval_steps=1",
            "--set", "validate=false"]


def _snapshot(folder):
    """Every file under `folder`: relative path -> sha256 of its bytes."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return found


def test_second_run_refused_then_ctrl_c_then_resume(tmp_path, capsys):
    out = tmp_path / "run"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    holder = subprocess.Popen([sys.executable, "-m", "kcnn.cli", *_argv(out)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + TIMEOUT
        while latest_checkpoint_step(out) < 2 and holder.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert holder.poll() is None, holder.communicate()[1][-3000:]
        holder.send_signal(signal.SIGSTOP)  # the folder holds still while the second run tries
        before = _snapshot(out)
        start = time.perf_counter()
        code = cli.main(_argv(out) + ["--set", "lr=0.01"])  # another run, same folder
        seconds = time.perf_counter() - start
        err = capsys.readouterr().err
        print(f"second run refused in {seconds:.2f} s: {err.strip()}")
        assert code == 2 and err.count("\n") == 1, err
        assert err.startswith(f"kcnn train: error: output folder {str(out)!r} is in use by "
                              f"another training run (pid {holder.pid} on host "
                              f"{socket.gethostname()}, started 20"), err
        assert seconds < 5  # at once: it loaded no data and built no model
        assert _snapshot(out) == before and (out / "config.json").exists()  # nothing touched
        holder.send_signal(signal.SIGCONT)
        holder.send_signal(signal.SIGINT)  # Ctrl-C
        stdout, stderr = holder.communicate(timeout=TIMEOUT)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    step = latest_checkpoint_step(out)
    print("interrupted:", stderr.decode().strip().splitlines()[-1])
    assert holder.returncode == 130, stderr.decode()[-3000:]
    assert 2 <= step < 2 * EPOCHS
    assert stderr.decode().strip().splitlines()[-1] == (
        f"kcnn train: error: interrupted; run the same command again to resume from step "
        f"{step}")
    assert b"Traceback" not in stderr
    # Its standard output was a pipe: one line per epoch, no progress bar's bytes.
    assert not set(stdout) & {ord("\r"), 0x08, 0x1b}, stdout[:300]
    lines = stdout.decode().splitlines()
    epochs = [line for line in lines if line.startswith("epoch: ")]
    assert all(line.startswith(f"epoch: {i + 1} - loss: ")
               for i, line in enumerate(epochs)), lines
    # Each completed epoch, one line (the last one may have been
    # interrupted between its checkpoint and its line).
    assert step // 2 - 1 <= len(epochs) <= step // 2
    with RunLock(str(out)):  # the interrupted run let go of the folder
        pass
    # The same command resumes at that step and finishes the run.
    assert cli.main(_argv(out)) == 0
    printed = capsys.readouterr().out
    assert f"(step {step} of {2 * EPOCHS})" in printed, printed
    assert (out / "history.csv").read_text().count("\n") == EPOCHS + 1


def test_lock_names_its_holder(tmp_path):
    """In one process too: a second `RunLock` on the folder is refused (flock locks belong
    to an open file, not a process), and free again once the first is released."""
    with RunLock(str(tmp_path)):
        info = json.loads((tmp_path / LOCK_FILE).read_text())
        assert info["pid"] == os.getpid() and info["host"] == socket.gethostname()
        with pytest.raises(OutputDirLocked, match=rf"pid {os.getpid()} on host "):
            RunLock(str(tmp_path))
    RunLock(str(tmp_path)).release()
