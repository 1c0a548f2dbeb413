"""SIGKILL during training, run the same command again: the final weights equal an
uninterrupted run's. Checkpoints survive a kill during a write."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from kcnn.train.checkpoint import CheckpointManager

pytestmark = pytest.mark.slow  # starts first in the two test workers (tests/conftest.py)

WORKERS = os.path.join(os.path.dirname(__file__), "_workers.py")
TIMEOUT = 240
TOTAL_STEPS = 2 * (1438 // 16)  # 2 epochs of the digits training split, batch 16


def _command(output):
    return [sys.executable, WORKERS, "resume", str(output)]


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env.pop("TF_CONFIG", None)
    return env


def _latest_step(output):
    try:
        with open(output / "checkpoints" / "latest.json") as f:
            return json.load(f)["step"]
    except (OSError, ValueError, KeyError):
        return 0


def test_sigkill_and_rerun_equals_uninterrupted(tmp_path):
    reference = subprocess.Popen(_command(tmp_path / "reference"), env=_env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run = tmp_path / "run"
    victim = subprocess.Popen(_command(run), env=_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + TIMEOUT
        while _latest_step(run) < 9 and victim.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        assert victim.poll() is None, "the run ended before it could be killed: " + (
            victim.stderr.read()[-2000:])
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        assert victim.returncode == -signal.SIGKILL
        killed_at = _latest_step(run)
        print("killed after checkpoint step", killed_at, "of", TOTAL_STEPS)
        assert 9 <= killed_at < TOTAL_STEPS and not (run / "model.keras").exists()
        out, err = reference.communicate(timeout=TIMEOUT)
        assert reference.returncode == 0, err[-3000:]
    finally:
        for proc in (reference, victim):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    again = subprocess.run(_command(run), env=_env(), capture_output=True, text=True,
                           timeout=TIMEOUT)
    assert again.returncode == 0, again.stderr[-3000:]
    resumed = json.loads(again.stdout.strip().splitlines()[-1])["resumed_from_step"]
    assert resumed >= killed_at > 0  # it resumed; it did not start over
    a = keras.saving.load_model(tmp_path / "reference" / "model.keras")
    b = keras.saving.load_model(run / "model.keras")
    diff = max(float(np.abs(x - y).max()) for x, y in zip(a.get_weights(), b.get_weights()))
    print("max |resumed - uninterrupted| =", diff)
    assert diff <= 1e-6
    # Loop state was restored too: the per-epoch history is the same.
    assert (run / "history.csv").read_text().splitlines()[1:] and [
        line.split(",")[:3] for line in (run / "history.csv").read_text().splitlines()] == [
        line.split(",")[:3] for line in
        (tmp_path / "reference" / "history.csv").read_text().splitlines()]


def test_kill_during_a_write_leaves_the_previous_checkpoint(tmp_path):
    v = tf.Variable([1.0, 2.0])
    manager = CheckpointManager(str(tmp_path), tf.train.Checkpoint(v=v), keep=2)
    manager.save(1, {"note": "one"})
    v.assign([3.0, 4.0])
    manager.save(2, {"note": "two"})
    # A kill in the middle of writing step 3: a partial temporary folder, and (worse case)
    # a torn pointer file.
    partial = tmp_path / ".tmp-step-000000003-x"
    partial.mkdir()
    (partial / "ckpt.index").write_bytes(b"\x00partial")
    (tmp_path / "latest.json").write_text('{"step": 3, "di')
    v.assign([0.0, 0.0])
    again = CheckpointManager(str(tmp_path), tf.train.Checkpoint(v=v), keep=2)
    assert not partial.exists()  # cleaned on start
    latest = again.latest()
    assert os.path.basename(latest) == "step-000000002"
    assert again.restore(latest)["note"] == "two"
    np.testing.assert_array_equal(v.numpy(), [3.0, 4.0])
    again.save(3, {})
    again.save(4, {})
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("step-")) == [
        "step-000000003", "step-000000004"]  # keep=2


def test_resume_refuses_a_different_config(tmp_path):
    from kcnn.train import TrainConfig, fit
    config = TrainConfig(epochs=1, max_steps_per_epoch=2, max_eval_steps=1, global_batch_size=8,
                         validate=False, verbose=0, output_dir=str(tmp_path))
    fit(config)
    with pytest.raises(ValueError, match=r"different run.*lr: 0.05 -> 0.1"):
        fit(config.replace(lr=0.1))


def test_checkpoints_with_the_old_field_names_still_resume(tmp_path):
    """A run checkpointed by an earlier version, whose state.json holds the caps by their
    old names (`steps_per_epoch`, `eval_steps`), resumes to the uninterrupted weights."""
    import shutil

    from kcnn.train import TrainConfig, fit
    config = TrainConfig(epochs=2, max_steps_per_epoch=2, max_eval_steps=1,
                         global_batch_size=8, validate=False, verbose=0,
                         output_dir=str(tmp_path))
    reference = fit(config)
    checkpoints = tmp_path / "checkpoints"
    shutil.rmtree(checkpoints / "step-000000004")  # back to the end of epoch 1
    (checkpoints / "latest.json").unlink()
    state_file = checkpoints / "step-000000002" / "state.json"
    state = json.loads(state_file.read_text())
    saved = state["config"]
    saved["steps_per_epoch"] = saved.pop("max_steps_per_epoch")
    saved["eval_steps"] = saved.pop("max_eval_steps")
    state_file.write_text(json.dumps(state))
    resumed = fit(config)
    assert resumed.resumed_from_step == 2
    diff = max(float(np.abs(a - b).max()) for a, b in
               zip(reference.model.get_weights(), resumed.model.get_weights()))
    assert diff <= 1e-6
