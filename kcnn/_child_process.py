"""Child processes that never outlive the kcnn process that started them (standard library).

`kcnn export --verify` runs a fresh Python process and `saved_model_cli`; if the export is
killed (SIGTERM, SIGKILL, a Ctrl-C sent to it alone) they must not keep running. On Linux each
child is started through a tiny launcher that asks the kernel to SIGKILL it when its parent
dies (`prctl(PR_SET_PDEATHSIG)`, kept across exec) and then execs the command; a launcher
rather than `preexec_fn`, which is unsafe in a process with threads (as TensorFlow's). Elsewhere
the command is started as is.
"""

import os
import subprocess
import sys

# argv: -c, the parent's pid, the command.
_LAUNCHER = """
import ctypes, os, signal, sys
ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)  # the parent died before prctl took effect
os.execvp(sys.argv[2], sys.argv[2:])
"""


def start(command, **popen_kwargs):
    """`subprocess.Popen(command, **popen_kwargs)`, killed by the kernel if this process dies."""
    if sys.platform.startswith("linux"):
        command = [sys.executable, "-c", _LAUNCHER, str(os.getpid()), *command]
    return subprocess.Popen(command, **popen_kwargs)
