"""Atomic versions: a poller never sees a partial version; a killed export leaves none."""

import os
import signal
import subprocess
import sys
import time

import pytest

import kcnn
from export.export_helpers import numeric_dirs
from kcnn.export import export_saved_model
from kcnn.export.saved_model import TMP_PREFIX

pytestmark = pytest.mark.slow  # starts first in the two test workers (tests/conftest.py)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "lenet5.keras"
    kcnn.models.lenet5().save(path)
    return str(path)


def _start_export(model_file, base, *extra):
    """`kcnn export MODEL BASE ...` in its own process group."""
    return subprocess.Popen(
        [sys.executable, "-m", "kcnn.cli", "export", model_file, str(base), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))


def _tmp_dirs(base):
    return [n for n in os.listdir(base) if n.startswith(TMP_PREFIX)] if base.is_dir() else []


def test_poller_never_sees_a_partial_version(model_file, tmp_path):
    base = tmp_path / "m"
    proc = _start_export(model_file, base)
    polls, tmp_polls, seen = 0, 0, {}
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        polls += 1
        tmp_polls += bool(_tmp_dirs(base))
        for n in numeric_dirs(base):
            version = base / n
            variables = os.listdir(version / "variables")
            assert (version / "saved_model.pb").is_file(), f"{n}/ without saved_model.pb"
            assert "variables.index" in variables, f"{n}/variables/ incomplete: {variables}"
            assert any(v.startswith("variables.data-") for v in variables)
            seen.setdefault(n, (version / "saved_model.pb").stat().st_size)
        time.sleep(0.002)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    assert "Exported version 1" in out
    assert tmp_polls > 20  # the poller really ran while the export was under way
    assert numeric_dirs(base) == ["1"] and not _tmp_dirs(base)
    # The first sighting of version 1 already had its final saved_model.pb.
    assert seen == {"1": (base / "1" / "saved_model.pb").stat().st_size}
    print(f"{polls} polls, {tmp_polls} while the export was being written; "
          "version 1 first seen complete")


def test_killed_export_leaves_no_version(model_file, tmp_path):
    base = tmp_path / "m"
    proc = _start_export(model_file, base, "--verify")  # verification: a wide window
    deadline = time.monotonic() + 300
    # Kill once the SavedModel is written but before verification and renaming end.
    while not any((base / t / "saved_model.pb").is_file() for t in _tmp_dirs(base)):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
        time.sleep(0.002)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert numeric_dirs(base) == []
    stale = _tmp_dirs(base)
    assert len(stale) == 1  # hidden from TF Serving (not a number) ...
    result = export_saved_model(kcnn.models.lenet5(), base, warmup=False)
    assert result.version == 1
    assert _tmp_dirs(base) == []  # ... and cleaned up by the next export
