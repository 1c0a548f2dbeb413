"""The `kcnn` command: sub-commands are wired, errors are clean, start-up is light."""

import csv
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import keras
import pytest

from kcnn import _startup_log, cli

COMMANDS = ("models", "summary", "train", "export", "predict", "explain")
# Lines of TensorFlow's native start-up log (abseil's banner and records such as
# "I0000 00:00:1796114074.764040    6625 port.cc:153] oneDNN custom operations are on").
STARTUP_LINE = re.compile(r"^(WARNING: All log messages before absl|[IWEF]\d{4} )", re.M)


def _console_script():
    command = shutil.which("kcnn", path=os.path.join(sys.prefix, "bin"))
    return [command] if command else [sys.executable, "-m", "kcnn.cli"]


def test_models_lists_matching_names(capsys):
    assert cli.main(["models", "vgg1?"]) == 0
    assert capsys.readouterr().out.split() == ["vgg11", "vgg13", "vgg16", "vgg19"]


def test_console_script_help_lists_commands():
    proc = subprocess.run([*_console_script(), "--help"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s+\S", proc.stdout, re.M), command


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_adds_its_own_arguments_and_the_table_help(command, capsys):
    # The top-level help comes from the static table; with the command's module loaded it
    # is the same text, so the table's one-line help equals the module's.
    assert cli.build_parser(command).format_help() == cli.build_parser().format_help()
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, "--help"])
    assert exit_.value.code == 0
    option = {"models": "pattern", "summary": "--input-shape", "train": "--smoke",
              "export": "--verify", "predict": "--top-k", "explain": "--unit"}[command]
    assert option in capsys.readouterr().out


IMPORTS = textwrap.dedent("""
    import contextlib, io, json, sys
    from kcnn.cli import main
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            code = main(sys.argv[1:])
        except SystemExit as e:
            code = e.code
    print(json.dumps({"code": code, "out": out.getvalue(),
                      "loaded": [m for m in ("keras", "tensorflow") if m in sys.modules]}))
""")


@pytest.mark.parametrize("argv", [
    ["--help"],
    ["models", "vgg1?"],
    ["models", "--details"],
])
def test_help_and_models_import_neither_keras_nor_tensorflow(argv):
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}  # TensorFlow's
    proc = subprocess.run([sys.executable, "-c", IMPORTS, *argv], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["code"] == 0 and result["out"], result
    assert result["loaded"] == [], result


# TensorFlow made unimportable, as if not installed; then the commands, in one process.
WITHOUT_TENSORFLOW = textwrap.dedent("""
    import contextlib, importlib.abc, io, json, sys

    class NoTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] == "tensorflow":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoTensorFlow())
    from kcnn.cli import main
    results = {}
    for argv in (["--help"], ["models"], ["summary", "resnet20"], ["train"],
                 ["export", "run", "base"]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as e:
                code = e.code
        results[argv[0]] = {"code": code, "out": out.getvalue(), "err": err.getvalue()}
    try:
        import tensorflow
        results["blocked"] = False
    except ModuleNotFoundError:
        results["blocked"] = True
    import keras
    results["backend"] = keras.backend.backend()
    print("RESULTS" + json.dumps(results))
""")


def test_help_models_and_summary_work_on_jax_without_tensorflow():
    # XLA compiles the weight initializers cheaply (as in test_jax_backend.py).
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_backend_optimization_level=0"}
    proc = subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULTS"))
    results = json.loads(line[len("RESULTS"):])
    assert results["blocked"] and results["backend"] == "jax"
    help_, models, summary = results["--help"], results["models"], results["summary"]
    assert help_["code"] == 0 and all(c in help_["out"] for c in COMMANDS), help_
    import kcnn
    assert models["code"] == 0 and models["out"].split() == kcnn.models.list_models(), models
    assert summary["code"] == 0, summary
    assert "Trainable params: 269,722" in summary["out"]  # ResNet-20, REFERENCE.md
    for command in ("train", "export"):
        result = results[command]
        assert result["code"] == 2 and result["out"] == "", result
        assert result["err"].startswith(f"kcnn {command}: error: `kcnn {command}` needs "
                                        "TensorFlow, which cannot be imported"), result
        assert result["err"].count("\n") == 1, result  # one line, no traceback


def test_train_and_export_refuse_another_keras_backend(monkeypatch, capsys):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    assert cli.main(["export", "run", "base"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kcnn export: error: `kcnn export` needs TensorFlow as the Keras "
                          "backend, and the backend is 'jax'") and err.count("\n") == 1


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """`kcnn train --smoke` in a fresh process, TF_CPP_MIN_LOG_LEVEL unset, with the
    default display (`verbose=1`; --smoke sets 2) into pipes: (proc, run), its output
    decoded as it came (no newline translation, so a carriage return stays one)."""
    run = tmp_path_factory.mktemp("smoke") / "run"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([*_console_script(), "train", "--smoke", "--output", str(run),
                           "--set", "verbose=1"],
                          env=env, cwd=run.parent, capture_output=True, timeout=300)
    proc.stdout, proc.stderr = proc.stdout.decode(), proc.stderr.decode()
    return proc, run


def test_train_prints_no_tensorflow_startup_log(smoke_run):
    proc, _ = smoke_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "test top-1 accuracy:" in proc.stdout
    assert not STARTUP_LINE.search(proc.stderr + proc.stdout), proc.stderr
    assert "cuInit" not in proc.stderr


def test_train_into_a_pipe_prints_one_line_per_epoch(smoke_run):
    """`kcnn train > log`: no progress bar's carriage returns, backspaces or colours."""
    proc, _ = smoke_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not set("\r\x08\x1b") & set(proc.stdout + proc.stderr), repr(proc.stdout[:300])
    lines = proc.stdout.splitlines()
    (epoch,) = [line for line in lines if line.startswith("epoch")]  # one epoch, one line
    assert epoch.startswith("epoch: 1 - loss: ") and " - accuracy: " in epoch, lines
    print(f"{len(proc.stdout)} bytes of standard output:\n{proc.stdout}")


# tensorboard's vendored html5lib warns once when its plugins load.
@pytest.mark.filterwarnings("ignore:html5lib's sanitizer is deprecated:DeprecationWarning")
def test_tensorboard_reads_the_training_logs(smoke_run):
    """docs/training.md's `tensorboard --logdir RUN/logs`: installed, and it reads the run."""
    from tensorboard.backend.event_processing.plugin_event_accumulator import (
        EventAccumulator)
    import tensorflow as tf

    (entry_point,) = importlib.metadata.entry_points(group="console_scripts",
                                                     name="tensorboard")
    assert callable(entry_point.load())  # the `tensorboard` command's import
    proc, run = smoke_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    logs = EventAccumulator(str(run / "logs"))
    logs.Reload()
    assert logs.SummaryMetadata("epoch/loss").plugin_data.plugin_name == "scalars"
    (event,) = logs.Tensors("epoch/loss")  # one epoch
    with open(run / "history.csv") as f:
        (row,) = csv.DictReader(f)
    assert event.step == 1
    assert float(tf.make_ndarray(event.tensor_proto)) == pytest.approx(float(row["loss"]),
                                                                       rel=1e-3)


# The start-up log of TensorFlow 2.21 on a CPU machine, as measured (TF_CPP_MIN_LOG_LEVEL
# unset; the first four lines come twice, once per native library).
BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
ONEDNN = ("I0000 00:00:1796114191.092307    7060 port.cc:153] oneDNN custom operations are "
          "on. You may see slightly different numerical results")
NO_DRIVER = ("I0000 00:00:1796114191.092628    7060 cudart_stub.cc:31] Could not find cuda "
             "drivers on your machine, GPU will not be used.")
CPU_GUARD = ("I0000 00:00:1796114191.370086    7060 cpu_feature_guard.cc:227] This "
             "TensorFlow binary is optimized to use available CPU instructions")
CUINIT = ("E0000 00:00:1796114200.713501    7060 cuda_platform.cc:52] failed call to cuInit: "
          "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)")
OTHER_WARNING = "W0000 00:00:1796114201.000001    7060 example.cc:1] a warning"
OTHER_ERROR = "E0000 00:00:1796114201.000002    7060 example.cc:2] a real error"
FATAL = "F0000 00:00:1796114201.000003    7060 example.cc:3] a fatal error"
PLAIN = "/x.py:3: UserWarning: not a TensorFlow record"


@pytest.mark.parametrize("level, shown", [
    (0, [BANNER, ONEDNN, NO_DRIVER, CPU_GUARD, CUINIT, OTHER_WARNING, OTHER_ERROR, FATAL,
         PLAIN]),
    (1, [CUINIT, OTHER_WARNING, OTHER_ERROR, FATAL, PLAIN]),
    (2, [OTHER_ERROR, FATAL, PLAIN]),  # the CLI's default; cuInit's failure is a warning
    (3, [FATAL, PLAIN]),
])
def test_startup_log_lines_each_level_hides(level, shown):
    lines = [BANNER, ONEDNN, NO_DRIVER, CPU_GUARD, CUINIT, OTHER_WARNING, OTHER_ERROR, FATAL,
             PLAIN]
    assert [line for line in lines if not _startup_log.hidden(line, level)] == shown


def test_held_back_filters_what_is_written_to_descriptor_2(monkeypatch, capfd):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    with _startup_log.held_back():
        os.write(2, f"{BANNER}\n{ONEDNN}\n{PLAIN}\n{CUINIT}\n{OTHER_ERROR}\n".encode())
    assert capfd.readouterr().err == f"{PLAIN}\n{OTHER_ERROR}\n"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")  # 0: everything, as it comes
    with _startup_log.held_back():
        os.write(2, f"{ONEDNN}\n".encode())
    assert capfd.readouterr().err == f"{ONEDNN}\n"


# --- errors: one line and a non-zero status; the traceback with --debug or KCNN_DEBUG ----

@pytest.fixture
def bad_keras_files(tmp_path):
    """A truncated `.keras` file (the first half of a saved model) and a text one."""
    inputs = keras.Input((4,))
    good = tmp_path / "good.keras"
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save(good)
    truncated, text = tmp_path / "truncated.keras", tmp_path / "text.keras"
    truncated.write_bytes(good.read_bytes()[:good.stat().st_size // 2])
    text.write_text("not a model\n")
    return {"truncated": truncated, "text": text}


@pytest.mark.parametrize("which", ["truncated", "text"])
def test_a_truncated_or_text_keras_file_is_named(which, bad_keras_files, tmp_path, capsys):
    import kcnn
    path = bad_keras_files[which]
    before = path.read_bytes()
    expected = (f"Model file {str(path)!r} is not a .keras zip archive ({len(before)} bytes): "
                "truncated, or not a saved model.")
    with pytest.raises(ValueError) as error:  # Keras itself says "File not found"
        kcnn.load_model(path)
    assert str(error.value) == expected
    assert cli.main(["export", str(path), str(tmp_path / "base")]) == 2
    err = capsys.readouterr().err
    assert err == f"kcnn export: error: Cannot load model file {str(path)!r}: {expected}\n"
    assert path.read_bytes() == before and not (tmp_path / "base").exists()


def test_debug_switch_shows_the_traceback(bad_keras_files, tmp_path, monkeypatch, capsys):
    argv = ["export", str(bad_keras_files["text"]), str(tmp_path / "base")]
    monkeypatch.delenv("KCNN_DEBUG", raising=False)
    with pytest.raises(ValueError, match="is not a .keras zip archive"):
        cli.main(["--debug", *argv])
    monkeypatch.setenv("KCNN_DEBUG", "1")
    with pytest.raises(ValueError, match="is not a .keras zip archive"):
        cli.main(argv)
    monkeypatch.setenv("KCNN_DEBUG", "0")
    assert cli.main(argv) == 2 and capsys.readouterr().err.count("\n") == 1


@pytest.mark.slow
def test_a_failed_checkpoint_write_is_one_error_line(tmp_path, capsys, file_size_limit):
    """A write that the OS refuses in the middle of training (a full disk, here a file-size
    limit): one line naming the file, status 1, no half-written checkpoint left."""
    run = tmp_path / "run"
    file_size_limit(150_000)  # config.json fits; a LeNet-5 checkpoint (~0.5 MB) does not
    code = cli.main(["train", "--output", str(run), "--epochs", "1", "--batch-size", "4",
                     "--set", "max_steps_per_epoch=2", "--set", "validate=false",
                     "--set", "verbose=0"])
    err = capsys.readouterr().err
    print(err)
    assert code == 1 and err.count("\n") == 1, err
    assert re.fullmatch(rf"kcnn train: error: {re.escape(str(run))}/checkpoints/"
                        r"\.tmp-step-000000002-\w+/\S+; File too large\n", err), err
    assert os.listdir(run / "checkpoints") == []


def test_disk_full_errors_say_what_to_do():
    """ENOSPC from Python's writes and TensorFlow's (as `ResourceExhaustedError`), real
    ones from /dev/full (a device that is always full), as the command prints them."""
    import tensorflow as tf
    with pytest.raises(OSError) as python_error:
        with open("/dev/full", "wb") as f:
            f.write(b"x")
    with pytest.raises(tf.errors.ResourceExhaustedError) as tf_error:
        tf.io.write_file("/dev/full", "x")
    hint = " (disk full: free some space and run the same command again)"
    assert cli.describe_error(python_error.value) == "No space left on device" + hint
    assert cli.describe_error(tf_error.value) == "/dev/full; No space left on device" + hint
    assert cli.describe_error(KeyError("x")) == (
        "KeyError: 'x' (`kcnn --debug ...` shows the traceback)")
