"""docs/training.md, "prepare on one machine, train on another": its three commands, run as
written on the test's own TFDS dataset. The training runs as a user runs it, in a process
that never imported the dataset's builder code and has no network."""

import json
import os
import re
import shlex
import subprocess
import sys
import time

import pytest

import tfds_cases  # registers the tiny builder, in this process only
from kcnn.cli import main

pytestmark = pytest.mark.slow  # starts first in the two test workers (tests/conftest.py)

DOC = os.path.join(os.path.dirname(__file__), "..", "docs", "training.md")
SECTION = "## TFDS data: prepare on one machine, train on another"


def documented_commands():
    text = open(DOC, encoding="utf-8").read()
    section = text[text.index(SECTION):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def test_prepare_copy_and_train_elsewhere_as_documented(tmp_path, offline_env, capsys):
    commands = documented_commands()
    assert [c.split()[:2] for c in commands] == [["kcnn", "prepare"], ["cp", "-r"],
                                                 ["kcnn", "train"]]
    export, datasets = tmp_path / "export", tmp_path / "datasets"
    datasets.mkdir()

    def here(command):
        command = command.replace("/data/tfds-export", str(export))
        command = command.replace("/mnt/datasets", str(datasets))
        return shlex.split(re.sub(r"\bmnist\b", tfds_cases.NAME, command))

    prepare, copy, train = map(here, commands)
    assert main(prepare[1:]) == 0  # on "the machine with network": builder code here
    assert f"copy {export / tfds_cases.NAME} into" in capsys.readouterr().out
    subprocess.run(copy, check=True, timeout=60)

    start = time.perf_counter()
    script = os.path.join(os.path.dirname(sys.executable), "kcnn")
    train[0] = script if os.path.exists(script) else train[0]
    proc = subprocess.run(train, cwd=tmp_path, env=offline_env, capture_output=True,
                          text=True, timeout=300)
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / train[train.index("--output") + 1]
    metrics = json.loads((out / "metrics.json").read_text())
    prep = json.loads((out / "preprocessing.json").read_text())
    print(f"kcnn train on the copied {tfds_cases.NAME}: test top-1 {metrics['top1']:.4f} "
          f"in {seconds:.1f} s")
    assert metrics["dataset"] == tfds_cases.NAME and prep["class_names"] == list(
        tfds_cases.CLASS_NAMES)
    assert metrics["top1"] >= 0.9  # three easy classes; chance is 1/3
