"""Checkpoints that a kill at any moment cannot break.

Layout of `<output>/checkpoints/`:

    step-000000120/ckpt.index, ckpt.data-*, state.json   one complete checkpoint each
    latest.json                                          {"step": 120, "dir": "step-000000120"}

A checkpoint is written into `.tmp-*`, synced, then renamed into place (a directory
rename is atomic); `latest.json` is replaced atomically afterwards. A kill during a
write leaves at most a `.tmp-*` folder, removed on the next start, and the previous
checkpoint untouched.
"""

import json
import os
import re
import shutil
import tempfile

import tensorflow as tf

from kcnn.io import atomic_write_text, fsync_dir

_STEP_DIR = re.compile(r"^step-(\d+)$")
LATEST = "latest.json"
STATE = "state.json"


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
        self.checkpoint.write(os.path.join(tmp, "ckpt"))
        with open(os.path.join(tmp, STATE), "w") as f:
            json.dump({**state, "step": step}, f, indent=2)
        for filename in os.listdir(tmp):
            with open(os.path.join(tmp, filename), "rb") as f:
                os.fsync(f.fileno())
        fsync_dir(tmp)
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

    def restore(self, path):
        """Loads checkpoint folder `path` into the tracked objects; returns its state dict."""
        with open(os.path.join(path, STATE)) as f:
            state = json.load(f)
        self.checkpoint.read(os.path.join(path, "ckpt")).assert_consumed()
        return state


def read_state(path):
    """The loop state of checkpoint folder `path`."""
    with open(os.path.join(path, STATE)) as f:
        return json.load(f)


def load_weights_into(model, path):
    """Loads the model variables of checkpoint folder `path` into `model` (for inspection)."""
    tf.train.Checkpoint(variables=list(model.variables)).read(
        os.path.join(path, "ckpt")).expect_partial()
    return model
