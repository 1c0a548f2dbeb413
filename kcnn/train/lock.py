"""One training run per output folder: an exclusive OS-level lock on it.

A run holds `fcntl.flock(LOCK_EX)` on `<output_dir>/.train.lock` from before it reads or
writes anything in the folder until it returns. The operating system releases the lock
when the process ends in any way (a kill -9 included), so a lock is never stale; the
file itself stays, holding the last holder's pid, host and start time, which a second
run names when it refuses the folder. Where `fcntl` does not exist (Windows), runs are
not locked.
"""

import datetime
import json
import os
import socket
import sys

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK_FILE = ".train.lock"


class OutputDirLocked(ValueError):
    """Another training run holds the output folder."""


class RunLock:
    """The exclusive lock of a training run on its output folder.

    Args:
        directory: str. The run's output folder (created if missing).

    Raises:
        OutputDirLocked: another process holds the lock; the message names the folder and
            the holder (pid, host, start time).
    """

    def __init__(self, directory):
        self.directory = directory
        self.path = os.path.join(directory, LOCK_FILE)
        self._fd = None
        if fcntl is None:
            return
        os.makedirs(directory, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # no O_TRUNC: not ours yet
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(_read(fd))
            os.close(fd)
            raise OutputDirLocked(
                f"output folder {directory!r} is in use by another training run ({holder}); "
                "wait for it to end, or pass another output_dir.") from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec="seconds"),
                "command": " ".join(sys.argv)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)

    def release(self):
        """Releases the lock (the file stays, naming the last holder)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def _read(fd):
    try:
        return json.loads(os.pread(fd, 4096, 0).decode())
    except (OSError, ValueError):
        return {}


def _describe(info):
    if not isinstance(info, dict) or "pid" not in info:
        return "holder unknown: it has not written its details yet"
    return (f"pid {info.get('pid')} on host {info.get('host', '?')}, started "
            f"{info.get('started', '?')}")
