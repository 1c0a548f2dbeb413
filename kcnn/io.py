"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Standard library only, so that every part of kcnn (data, train, export, the
preprocessing contract) and the recipes can use it without importing TensorFlow.
"""

import os
import re
import tempfile


def atomic_write_bytes(path, data):
    """Writes `data` to `path` through a temporary file in the same folder and a rename."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(e, OSError) and e.errno and e.filename in (None, tmp):
            raise type(e)(e.errno, e.strerror, os.fspath(path)) from e  # name the file
        raise
    fsync_dir(directory)


def atomic_write_text(path, text):
    """`atomic_write_bytes` of `text` encoded as UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def fsync_dir(directory):
    """Makes a rename inside `directory` durable (no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temp_files(directory, names):
    """Removes the temporary files that writes of `names` in `directory` left behind.

    `atomic_write_bytes` removes its temporary file when the write fails, but a process
    killed in the middle of a write (kill -9, a power cut) cannot. Call this only while no
    other process may be writing these files (a training run does, under its lock).

    Args:
        directory: str. The folder.
        names: iterable of str. File names written there atomically (`history.csv`, ...);
            their temporary files are `.NAME.XXXXXXXX.tmp` (`atomic_write_bytes`) and
            `.tmp-NAME` (`kcnn.train.outputs.save_model`).

    Returns:
        The list of removed paths.
    """
    if not os.path.isdir(directory):
        return []
    pattern = re.compile("|".join(rf"\.{re.escape(n)}\.[^./]+\.tmp|\.tmp-{re.escape(n)}"
                                  for n in names))
    removed = []
    for entry in os.listdir(directory):
        path = os.path.join(directory, entry)
        if pattern.fullmatch(entry) and os.path.isfile(path):
            os.remove(path)
            removed.append(path)
    return removed
