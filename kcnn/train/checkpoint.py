"""Checkpoints that a kill at any moment cannot break.

Layout of `<output>/checkpoints/`:

    step-000000120/ckpt.index, ckpt.data-*, state.json   one complete checkpoint each
    latest.json                                          {"step": 120, "dir": "step-000000120"}

A checkpoint is written into `.tmp-*`, synced, then renamed into place (a directory
rename is atomic); `latest.json` is replaced atomically afterwards. A kill during a
write leaves at most a `.tmp-*` folder, removed on the next start, and the previous
checkpoint untouched. A checkpoint that cannot be read all the same (a disk error, a file
truncated or overwritten by hand) is renamed `step-*.corrupt` (never deleted), with a
`CorruptCheckpointWarning`, and the run resumes from the newest intact one.
"""

import json
import os
import re
import shutil
import tempfile
import warnings

import tensorflow as tf

from kcnn.io import atomic_write_text, fsync_dir, remove_stale_temp_files
from kcnn.train.config import RESUME_MAY_CHANGE, field_defaults, upgrade_names

_STEP_DIR = re.compile(r"^step-(\d+)$")
LATEST = "latest.json"
STATE = "state.json"
# What reading a damaged checkpoint raises: TensorFlow's errors for unreadable or short
# files (a garbage index is a bare `OpError`), Python's for bad bytes in the index,
# `assert_consumed`'s for missing values. Not corruption: out of memory, no permission, a
# cancelled or unavailable read (the checkpoint is left where it is, the error raised).
CORRUPT_ERRORS = (tf.errors.OpError, IndexError, ValueError, AssertionError)
NOT_CORRUPT = (tf.errors.ResourceExhaustedError, tf.errors.PermissionDeniedError,
                tf.errors.CancelledError, tf.errors.UnavailableError,
                tf.errors.DeadlineExceededError, tf.errors.AbortedError)

class CorruptCheckpointWarning(UserWarning):
    """A checkpoint could not be read; it was set aside and an older one used."""


class CheckpointManager:
    """Saves and finds checkpoints of a `tf.train.Checkpoint` plus a JSON loop state.

    Args:
        directory: str. The checkpoints folder.
        checkpoint: `tf.train.Checkpoint` of the model and optimizer.
        keep: int. Complete checkpoints kept. Defaults to 2.
        is_chief: bool. Only the chief writes into `directory`; other workers write to a
            temporary folder that is deleted (a save may need every worker to take part).
    """

    def __init__(self, directory, checkpoint, keep=2, is_chief=True):
        self.directory = directory
        self.checkpoint = checkpoint
        self.keep = keep
        self.is_chief = is_chief
        if is_chief:
            os.makedirs(directory, exist_ok=True)
            for name in os.listdir(directory):
                if name.startswith(".tmp-"):
                    shutil.rmtree(os.path.join(directory, name), ignore_errors=True)
            remove_stale_temp_files(directory, [LATEST])

    def save(self, step, state):
        """Writes checkpoint `step` with loop `state` (a JSON-able dict); returns its folder."""
        if not self.is_chief:
            tmp = tempfile.mkdtemp(prefix="kcnn-worker-ckpt-")
            try:
                self.checkpoint.write(os.path.join(tmp, "ckpt"))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            return None
        name = f"step-{step:09d}"
        final = os.path.join(self.directory, name)
        tmp = tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=self.directory)
        try:
            self.checkpoint.write(os.path.join(tmp, "ckpt"))
            with open(os.path.join(tmp, STATE), "w") as f:
                json.dump({**state, "step": step}, f, indent=2)
            for filename in os.listdir(tmp):
                with open(os.path.join(tmp, filename), "rb") as f:
                    os.fsync(f.fileno())
            fsync_dir(tmp)
        except BaseException:  # a full disk, say: no half-written folder left behind
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if os.path.exists(final):  # a re-save of the same step after a resume
            shutil.rmtree(final)
        os.rename(tmp, final)
        fsync_dir(self.directory)
        atomic_write_text(os.path.join(self.directory, LATEST),
                          json.dumps({"step": step, "dir": name}) + "\n")
        self._prune()
        return final

    def _complete(self):
        """(step, folder) of complete checkpoints, oldest first."""
        found = []
        if not os.path.isdir(self.directory):
            return found
        for name in os.listdir(self.directory):
            m = _STEP_DIR.match(name)
            path = os.path.join(self.directory, name)
            if m and os.path.isfile(os.path.join(path, STATE)):
                found.append((int(m.group(1)), path))
        return sorted(found)

    def _prune(self):
        for _, path in self._complete()[:-self.keep]:
            shutil.rmtree(path, ignore_errors=True)

    def latest(self):
        """The folder of the newest complete checkpoint, or None."""
        try:
            with open(os.path.join(self.directory, LATEST)) as f:
                path = os.path.join(self.directory, json.load(f)["dir"])
            if os.path.isfile(os.path.join(path, STATE)):
                return path
        except (OSError, ValueError, KeyError, TypeError):
            pass
        complete = self._complete()
        return complete[-1][1] if complete else None

    def candidates(self):
        """Folders of complete checkpoints to resume from, best first: `latest()`, then
        the others, newest first."""
        latest = self.latest()
        if latest is None:
            return []
        return [latest] + [path for _, path in reversed(self._complete()) if path != latest]

    def set_aside(self, path, reason):
        """Renames the unreadable checkpoint `path` to `path.corrupt` (never deletes it;
        other workers only skip it) with a `CorruptCheckpointWarning`; returns the new
        path."""
        aside, n = path + ".corrupt", 1
        while os.path.exists(aside):
            aside, n = f"{path}.corrupt-{n}", n + 1
        if self.is_chief:
            os.rename(path, aside)
            fsync_dir(self.directory)
            action = f"moved aside to {aside!r}"
        else:
            aside, action = path, "skipped"
        warnings.warn(f"Checkpoint {path!r} is unreadable ({reason}); {action}, resuming "
                      "from the newest intact checkpoint before it.",
                      CorruptCheckpointWarning, stacklevel=2)
        return aside

    def read_weights(self, path):
        """Loads the variables of checkpoint folder `path` into the tracked objects.

        Raises:
            One of `CORRUPT_ERRORS` (and not of `NOT_CORRUPT`) if the checkpoint's files
            are damaged.
        """
        self.checkpoint.read(os.path.join(path, "ckpt")).assert_consumed()

    def restore(self, path):
        """Loads checkpoint folder `path` into the tracked objects; returns its state dict."""
        with open(os.path.join(path, STATE)) as f:
            state = json.load(f)
        self.checkpoint.read(os.path.join(path, "ckpt")).assert_consumed()
        return state


def read_state(path):
    """The loop state of checkpoint folder `path`.

    Raises:
        ValueError: if its `state.json` cannot be read or is not a loop state; the message
            names the file.
    """
    file = os.path.join(path, STATE)
    try:
        with open(file, "rb") as f:
            state = json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read {file!r}: {e}") from e
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        raise ValueError(f"{file!r} is not a checkpoint state (a JSON object with an int "
                         "`step`)")
    return state


def run_changes(saved, config, steps_per_epoch, variable_shapes, variable_paths):
    """What differs between a checkpoint's loop state and the run that would resume it.

    Compared before any value is restored: the settings (but `RESUME_MAY_CHANGE`), the
    epoch's length, then (same settings, new code) the shapes of the model's variables.

    Args:
        saved: dict. The checkpoint's `state.json`.
        config: dict. The resuming run's resolved `TrainConfig.to_dict()`.
        steps_per_epoch: int. The resuming run's.
        variable_shapes: list of lists of ints. Its model's variables' shapes, in order.
        variable_paths: list of str. Their paths, for the message.

    Returns:
        str: the changes ("lr: 0.05 -> 0.1, optimizer: 'sgd' -> 'adam'"); empty if none.
    """
    # Checkpoints of earlier versions hold the old field names: read them as the new; a
    # field added since was at its default there.
    before = {**field_defaults(), **upgrade_names(saved.get("config", {}), warn=False)}
    changed = sorted(k for k in config if k not in RESUME_MAY_CHANGE
                     and before.get(k) != json.loads(json.dumps(config[k])))
    if changed:
        return ", ".join(f"{k}: {before.get(k)!r} -> {config[k]!r}" for k in changed)
    if saved.get("steps_per_epoch") != steps_per_epoch:
        return f"steps per epoch: {saved.get('steps_per_epoch')} -> {steps_per_epoch}"
    old = saved.get("variable_shapes")  # absent in checkpoints of earlier versions
    if old is None or old == variable_shapes:
        return ""
    if len(old) != len(variable_shapes):
        return f"the model's variables: {len(old)} -> {len(variable_shapes)}"
    i = next(i for i, (a, b) in enumerate(zip(old, variable_shapes)) if a != b)
    return (f"the model's variable {i} ({variable_paths[i]}) shape: {old[i]} -> "
            f"{variable_shapes[i]}")


def load_weights_into(model, path):
    """Loads the model variables of checkpoint folder `path` into `model` (for inspection)."""
    tf.train.Checkpoint(variables=list(model.variables)).read(
        os.path.join(path, "ckpt")).expect_partial()
    return model
