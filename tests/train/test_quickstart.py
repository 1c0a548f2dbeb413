"""The README's main job: `kcnn train` with no arguments, offline, >= 97 % held-out accuracy."""

import csv
import json
import os
import time

import pytest

from kcnn.cli import main

pytestmark = pytest.mark.slow  # starts first in the two test workers (tests/conftest.py)


def test_quickstart_command(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the default output folder is runs/quickstart
    start = time.perf_counter()
    assert main(["train"]) == 0
    seconds = time.perf_counter() - start
    out = tmp_path / "runs" / "quickstart"
    metrics = json.loads((out / "metrics.json").read_text())
    printed = capsys.readouterr().out
    print(f"quickstart: held-out top-1 {metrics['top1']:.4f} in {seconds:.1f} s")
    assert "test top-1 accuracy:" in printed
    # Standard output is not a terminal: one line per epoch, no progress bar.
    assert not set("\r\x08\x1b") & set(printed), repr(printed[:300])
    epochs = [line for line in printed.splitlines() if line.startswith("epoch: ")]
    assert [line.split(" - ")[0] for line in epochs] == [f"epoch: {i}" for i in range(1, 41)]
    assert metrics["top1"] >= 0.97 and metrics["dataset"] == "digits"
    for name in ("model.keras", "curves.png", "history.csv", "config.json",
                 "preprocessing.json"):
        assert (out / name).stat().st_size > 0, name
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(out / "logs"))
    with open(out / "history.csv") as f:
        assert len(list(csv.DictReader(f))) == 40
    # Running the same command again finds the finished run and does not train again.
    assert main(["train", "--set", "verbose=0"]) == 0
    assert json.loads((out / "metrics.json").read_text())["top1"] == metrics["top1"]
