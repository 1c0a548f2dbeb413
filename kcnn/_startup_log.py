"""TensorFlow's native start-up log, held back for the `kcnn` command.

TensorFlow's shared libraries log to the process's stderr (file descriptor 2) while they
load, in abseil's format (`I0000 00:00:1796114074.764 6625 port.cc:153] oneDNN custom
operations are on. ...`). `TF_CPP_MIN_LOG_LEVEL` filters TensorFlow's native log by
severity (1 hides INFO, 2 also WARNING, 3 also ERROR), but the records logged while the
libraries load, before abseil's logging is initialised (abseil's "All log messages before
absl::InitializeLog() ..." line, then each library's oneDNN and CUDA-driver notices), are
printed at every level (measured with TensorFlow 2.21). `held_back()` captures descriptor 2 while TensorFlow
loads and finds its devices, and passes on every line except the records the level hides.

One ERROR record counts as a WARNING here: "failed call to cuInit", which TensorFlow logs
on every machine without a usable GPU (it then runs on the CPU).
"""

import contextlib
import os
import re
import sys
import tempfile

# I0000 00:00:1796114074.764040    6625 port.cc:153] message
_RECORD = re.compile(r"([IWEF])\d{4} [\d:.]+ +\d+ [^ \]]+:\d+\] ")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
_ABSL_BANNER = "WARNING: All log messages before absl::InitializeLog() is called"
_NO_GPU = "failed call to cuInit"


def min_log_level():
    """`TF_CPP_MIN_LOG_LEVEL` as TensorFlow reads it (0 when unset or not a number)."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def hidden(line, level):
    """Whether `line` of native stderr is a record that log level `level` hides."""
    if line.startswith(_ABSL_BANNER):
        return level >= 1
    match = _RECORD.match(line)
    if match is None:
        return False
    severity = _SEVERITY[match.group(1)]
    if severity == 2 and _NO_GPU in line:
        severity = 1
    return severity < min(level, 3)


@contextlib.contextmanager
def held_back():
    """Captures stderr's descriptor, then writes out what `TF_CPP_MIN_LOG_LEVEL` allows.

    Everything else written to stderr meanwhile (Python warnings, tracebacks) is passed on
    unchanged and in order, when the block ends. Does nothing at level 0.
    """
    level = min_log_level()
    if level < 1:
        yield
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 (a windowed interpreter): nothing to hold back
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode(errors="replace")
            sys.stderr.write("".join(line for line in text.splitlines(keepends=True)
                                     if not hidden(line, level)))
            sys.stderr.flush()
