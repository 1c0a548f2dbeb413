"""The `kcnn` command line tool.

The top-level parser is built from `_COMMANDS`, a static table, so `kcnn --help` imports
neither Keras nor TensorFlow. Only the chosen command's module is imported: its
`add_parser(subparsers)` adds the command's arguments and sets `func`, which runs it.

`train` and `export` need TensorFlow (and it as Keras's backend); `summary` needs Keras,
on any backend; `models` needs neither. TensorFlow's native start-up log is kept out of
the output: the command sets `TF_CPP_MIN_LOG_LEVEL=2` unless it is set already (so
TensorFlow's INFO and WARNING records are hidden; `TF_CPP_MIN_LOG_LEVEL=0 kcnn ...` shows
everything) and holds back the records TensorFlow prints before it applies that level
(`kcnn._startup_log`).

An error ends a command with one line, `kcnn COMMAND: error: ...`, and a non-zero status
(2 for bad input, 1 otherwise, 130 for Ctrl-C); `kcnn --debug COMMAND` or `KCNN_DEBUG=1`
shows the traceback instead.
"""

import argparse
import errno
import importlib
import os
import re
import sys
from typing import NamedTuple

from kcnn import __version__, _startup_log


class _Command(NamedTuple):
    module: str  # defines add_parser(subparsers), with the same `help`
    help: str
    needs: str | None  # None, "keras" or "tensorflow"


_COMMANDS = {
    "models": _Command("kcnn.models._cli", "list the registered models", None),
    "weights": _Command("kcnn.weights._cli", "list the published pretrained weights", None),
    "summary": _Command(
        "kcnn.analysis._cli",
        "print shapes, parameters, MACs and receptive fields per layer", "keras"),
    "train": _Command(
        "kcnn.train._cli",
        "train a model (no arguments: the offline LeNet-5 quickstart)", "tensorflow"),
    "export": _Command(
        "kcnn.export._cli",
        "export a trained model as a versioned SavedModel for TF Serving "
        "(or an ONNX / LiteRT file)", "tensorflow"),
    "predict": _Command(
        "kcnn._predict_cli",
        "classify image files with pretrained weights or a trained run", "tensorflow"),
    "explain": _Command(
        "kcnn.explain._cli",
        "Grad-CAM, feature maps, filters and a receptive field as PNGs", "tensorflow"),
    "prepare": _Command(
        "kcnn.data._cli",
        "download and prepare a TFDS dataset (to train offline, elsewhere)", "tensorflow"),
}


class _Unavailable(Exception):
    """A command's runtime (TensorFlow, or it as Keras's backend) is missing."""


def build_parser(command=None):
    """The `kcnn` parser: every command listed, only `command`'s arguments added.

    Args:
        command: str or None. The command whose module is imported to add its arguments.
            Defaults to None (the top-level help only).
    """
    parser = argparse.ArgumentParser(
        prog="kcnn", description="Classic convolutional networks in Keras 3.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (as KCNN_DEBUG=1 does)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name, spec in _COMMANDS.items():
        if name == command:
            importlib.import_module(spec.module).add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=spec.help)
    return parser


def _import_tensorflow(command):
    try:
        import tensorflow  # noqa: F401
    except ImportError as e:
        raise _Unavailable(
            f"`kcnn {command}` needs TensorFlow, which cannot be imported ({e}); install "
            "it (`pip install tensorflow`)") from None


def _start_keras(command, needs):
    """Imports Keras and, on the TensorFlow backend, lets TensorFlow find its devices."""
    import keras

    backend = keras.backend.backend()
    if needs == "tensorflow" and backend != "tensorflow":
        raise _Unavailable(
            f"`kcnn {command}` needs TensorFlow as the Keras backend, and the backend is "
            f"{backend!r} (from KERAS_BACKEND or ~/.keras/keras.json); set "
            "KERAS_BACKEND=tensorflow")
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.list_physical_devices()  # now, while its log is held back


def main(argv=None):
    """Runs `kcnn ARGV`; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before anything imports TensorFlow
    name = next((arg for arg in argv if not arg.startswith("-")), None)
    spec = _COMMANDS.get(name)
    try:
        with _startup_log.held_back():
            if spec is not None and spec.needs == "tensorflow":
                _import_tensorflow(name)  # the command's module imports it
            parser = build_parser(name if spec is not None else None)
        args = parser.parse_args(argv)
        if spec is not None and spec.needs is not None:
            with _startup_log.held_back():
                _start_keras(name, spec.needs)
    except _Unavailable as e:
        print(f"kcnn {name}: error: {e}", file=sys.stderr)
        return 2
    debug = args.debug or os.environ.get("KCNN_DEBUG", "").strip() not in ("", "0")
    try:
        return args.func(args) or 0
    except KeyboardInterrupt as e:  # kcnn.train's says where a rerun resumes
        if debug:
            raise
        print(f"kcnn {args.command}: error: {e or 'interrupted'}", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001  (one line instead of a traceback)
        if debug:
            raise
        print(f"kcnn {args.command}: error: {describe_error(e)}", file=sys.stderr)
        return 2 if isinstance(e, ValueError) else 1


_TF_DECORATION = re.compile(r"^\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\]\s*$")


def describe_error(error):
    """One line for `error`: its message, the file it concerns, and what to do if known.

    `ValueError`s are kcnn's own messages about bad input, shown as they are; an
    `OSError` is its reason and file; a TensorFlow error its message without the op's
    decoration; anything else its type and message, with the way to see the traceback.
    """
    if isinstance(error, ValueError):
        return str(error)
    tf = sys.modules.get("tensorflow")
    tf_error = tf is not None and isinstance(error, tf.errors.OpError)
    if tf_error:
        text = _TF_DECORATION.sub("", error.message.strip().splitlines()[0])
    elif isinstance(error, OSError):
        text = error.strerror or str(error)
        if error.filename is not None:
            text += f": {os.fsdecode(error.filename)!r}"
    else:
        lines = str(error).strip().splitlines()
        return (f"{type(error).__name__}: {lines[0] if lines else ''} (`kcnn --debug ...` "
                "shows the traceback)")
    if ((isinstance(error, OSError) and error.errno == errno.ENOSPC)
            or (tf_error and "No space left on device" in text)):
        text += " (disk full: free some space and run the same command again)"
    return text


if __name__ == "__main__":
    sys.exit(main())
