"""SIGKILL during training, run the same command again: the final weights equal an
uninterrupted run's. Checkpoints survive a kill during a write."""

import json
import re
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from conftest import latest_checkpoint_step
import tensorflow as tf

from kcnn.train.checkpoint import CheckpointManager
from kcnn.train.lock import LOCK_FILE

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


def test_sigkill_and_rerun_equals_uninterrupted(tmp_path):
    reference = subprocess.Popen(_command(tmp_path / "reference"), env=_env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run = tmp_path / "run"
    victim = subprocess.Popen(_command(run), env=_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + TIMEOUT
        while latest_checkpoint_step(run) < 9 and victim.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        assert victim.poll() is None, "the run ended before it could be killed: " + (
            victim.stderr.read()[-2000:])
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        assert victim.returncode == -signal.SIGKILL
        killed_at = latest_checkpoint_step(run)
        print("killed after checkpoint step", killed_at, "of", TOTAL_STEPS)
        assert 9 <= killed_at < TOTAL_STEPS and not (run / "model.keras").exists()
        # The lock file still names the killed holder; its lock died with it (the rerun
        # below trains into the folder).
        assert json.loads((run / LOCK_FILE).read_text())["pid"] == victim.pid
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
    old names (`steps_per_epoch`, `eval_steps`) and lacks a later field (`max_pixels`),
    resumes to the uninterrupted weights."""
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
    del saved["max_pixels"]  # a field added since: absent means its default
    state_file.write_text(json.dumps(state))
    resumed = fit(config)
    assert resumed.resumed_from_step == 2
    diff = max(float(np.abs(a - b).max()) for a, b in
               zip(reference.model.get_weights(), resumed.model.get_weights()))
    assert diff <= 1e-6


# --- damaged checkpoints, changed runs, leftovers: on copies of one finished run ---------

SMALL = dict(epochs=2, max_steps_per_epoch=2, max_eval_steps=1, global_batch_size=8,
             validate=False, verbose=0)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished 2-epoch, 4-step LeNet-5 run (checkpoints at steps 2 and 4), named by
    `model_kwargs`: (folder, config, final weights)."""
    from kcnn.train import TrainConfig, fit
    folder = tmp_path_factory.mktemp("finished") / "run"
    config = TrainConfig(**SMALL, model_kwargs={"name": "digits_lenet"},
                         output_dir=str(folder))
    return folder, config, fit(config).model.get_weights()


def _copy(finished_run, tmp_path):
    import shutil
    folder, config, weights = finished_run
    copy = tmp_path / "run"
    shutil.copytree(folder, copy)
    return copy, config.replace(output_dir=str(copy)), weights


def _files(folder, skip=(LOCK_FILE,)):
    """Relative path -> bytes of every file under `folder` but `skip`."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in skip}


def _truncate_data(step_dir):
    (data,) = step_dir.glob("ckpt.data-*")
    data.write_bytes(data.read_bytes()[:data.stat().st_size // 2])


def _garbage_index(step_dir):
    (step_dir / "ckpt.index").write_bytes(b"not an index " * 8)


def _torn_state(step_dir):
    (step_dir / "state.json").write_text('{"step": 4, "hist')


@pytest.mark.parametrize("damage, reason", [
    ({"step-000000004": _truncate_data}, r"IndexError: Read less bytes than requested"),
    ({"step-000000004": _torn_state},
     r"cannot read '.*step-000000004/state\.json': Unterminated string"),
    ({"step-000000004": _truncate_data, "step-000000002": _garbage_index}, r"IndexError"),
], ids=["truncated-data", "torn-state-json", "every-checkpoint-and-garbage-index"])
def test_damaged_checkpoint_set_aside_and_older_one_resumed(finished_run, tmp_path, damage,
                                                            reason):
    from kcnn.train import CorruptCheckpointWarning, fit
    run, config, reference = _copy(finished_run, tmp_path)
    checkpoints = run / "checkpoints"
    for name, spoil in damage.items():
        spoil(checkpoints / name)
    damaged = {name: _files(checkpoints / name) for name in damage}
    with pytest.warns(CorruptCheckpointWarning) as warned:
        result = fit(config)
    messages = [str(w.message) for w in warned if w.category is CorruptCheckpointWarning]
    print(*messages, sep="\n")
    assert len(messages) == len(damage)
    assert re.search(rf"Checkpoint '.*step-000000004' is unreadable \({reason}", messages[0])
    if len(damage) == 2:
        assert re.search(r"Checkpoint '.*step-000000002' is unreadable \(OpError: not an "
                         r"sstable \(bad magic number\)\); moved aside to '.*step-000000002"
                         r"\.corrupt'", messages[1])
    for name, files in damaged.items():  # moved aside, byte for byte; nothing deleted
        assert _files(checkpoints / f"{name}.corrupt") == files
    assert result.resumed_from_step == (0 if len(damage) == 2 else 2)
    # From the intact checkpoint (or, none left, from the start): the uninterrupted weights.
    diff = max(float(np.abs(a - b).max()) for a, b in zip(reference, result.model.get_weights()))
    assert diff <= 1e-6


@pytest.mark.parametrize("change, named", [
    ({"optimizer": "adam"}, "optimizer: 'sgd' -> 'adam'"),
    ({"model_kwargs": {"name": "digits_lenet", "activation": "relu"}},
     "model_kwargs: {'name': 'digits_lenet'} -> {'name': 'digits_lenet', 'activation': 'relu'}"),
])
def test_resume_names_a_changed_model_or_optimizer(finished_run, tmp_path, change, named):
    """Compared before restoring: not TensorFlow's shape error; not a byte changed."""
    from kcnn.train import fit
    run, config, _ = _copy(finished_run, tmp_path)
    before = _files(run)
    with pytest.raises(ValueError, match="different run") as error:
        fit(config.replace(**change))
    assert f"(changed: {named})" in str(error.value)
    assert _files(run) == before


def test_resume_names_a_changed_builder(temporary_model, tmp_path):
    """The same settings but a builder whose variables changed (new code): named by the
    first variable whose shape differs, before any value is read."""
    from kcnn.train import TrainConfig, fit

    def build(width):
        def tiny(*, input_shape, num_classes, **_):
            inputs = keras.Input(input_shape)
            x = keras.layers.Conv2D(width, 3, strides=4, name="conv")(inputs)
            x = keras.layers.GlobalAveragePooling2D()(x)
            return keras.Model(inputs, keras.layers.Dense(num_classes, name="out")(x))
        return tiny

    temporary_model(build(4))
    config = TrainConfig(**{**SMALL, "epochs": 1, "max_steps_per_epoch": 1}, model="tiny",
                         image_size=[16, 16], channels=1, output_dir=str(tmp_path))
    fit(config)
    before = _files(tmp_path)
    temporary_model(build(8))
    with pytest.raises(ValueError, match=re.escape(
            "(changed: the model's variable 0 (conv/kernel) shape: [3, 3, 1, 4] -> "
            "[3, 3, 1, 8])")):
        fit(config)
    assert _files(tmp_path) == before


def test_rerun_removes_temp_files_of_killed_writes(finished_run, tmp_path):
    """Temporary files that a kill in the middle of an atomic write left (the writer could
    not remove them) are removed by the next run, which holds the folder's lock; other
    files, however named, stay."""
    from kcnn.train import fit
    run, config, _ = _copy(finished_run, tmp_path)
    leftovers = [run / ".history.csv.k2j4h1x9.tmp", run / ".curves.png.abcd_123.tmp",
                 run / ".tmp-model.keras", run / "checkpoints" / ".latest.json.q8w7e6r5.tmp"]
    keep = [run / ".history.csv.bak", run / "notes.tmp", run / "checkpoints" / "latest.json.tmp"]
    for path in leftovers + keep:
        path.write_bytes(b"partial")
    assert fit(config).resumed_from_step == 4
    assert [p.name for p in leftovers if p.exists()] == []
    assert all(p.read_bytes() == b"partial" for p in keep)


def test_model_kwargs_name(finished_run):
    """`model_kwargs={"name": ...}` reaches the builder; the saved model has that name."""
    from kcnn.saving import load_model
    folder, _, _ = finished_run
    assert load_model(folder / "model.keras").name == "digits_lenet"
