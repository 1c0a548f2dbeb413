"""The `kcnn` command: sub-commands are wired, errors are clean."""

import subprocess
import sys

from kcnn import cli


def test_models_lists_matching_names(capsys):
    assert cli.main(["models", "vgg1?"]) == 0
    assert capsys.readouterr().out.split() == ["vgg11", "vgg13", "vgg16", "vgg19"]


def test_console_script_help_lists_commands():
    proc = subprocess.run([sys.executable, "-m", "kcnn.cli", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for command in ("models", "summary", "train", "export"):
        assert command in proc.stdout
