"""Atomic writes: a failed write leaves the old file and no temporary file, and names the
file it was writing."""

import errno
import os

import pytest

from kcnn.io import atomic_write_bytes, remove_stale_temp_files


def test_failed_write_keeps_the_old_file_and_removes_its_temp_file(tmp_path, file_size_limit):
    path = tmp_path / "history.csv"
    atomic_write_bytes(path, b"epoch,loss\n1,0.5\n")
    file_size_limit(4096)
    with pytest.raises(OSError) as error:
        atomic_write_bytes(path, b"x" * 100_000)  # fails in the OS, as on a full disk
    assert error.value.errno == errno.EFBIG and error.value.filename == str(path)
    assert os.listdir(tmp_path) == ["history.csv"]  # no .history.csv.*.tmp left
    assert path.read_bytes() == b"epoch,loss\n1,0.5\n"


def test_remove_stale_temp_files_matches_only_the_writers_names(tmp_path):
    names = [".history.csv.ab_12xyz.tmp", ".tmp-model.keras", ".history.csv.tmp",
             "history.csv", ".config.json.q1.tmp", ".history.csv.a.b.tmp", "x.tmp"]
    for name in names:
        (tmp_path / name).write_text("x")
    removed = remove_stale_temp_files(str(tmp_path), ["history.csv", "model.keras"])
    assert sorted(os.path.basename(p) for p in removed) == [".history.csv.ab_12xyz.tmp",
                                                            ".tmp-model.keras"]
    assert sorted(os.listdir(tmp_path)) == sorted(set(names) - {
        ".history.csv.ab_12xyz.tmp", ".tmp-model.keras"})
