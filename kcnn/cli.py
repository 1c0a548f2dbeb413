"""The `kcnn` command line tool.

Each sub-command lives beside the code it drives, in a module with
`add_parser(subparsers)` (which sets `func` on its parser) and is listed in
`_COMMANDS`; its module is imported only when the command line is parsed.
"""

import argparse
import importlib
import sys

# (command, module): the module defines add_parser(subparsers).
_COMMANDS = (
    ("models", "kcnn.models._cli"),
    ("export", "kcnn.export._cli"),
    ("summary", "kcnn.analysis._cli"),
    ("train", "kcnn.train._cli"),
    ("prepare", "kcnn.data._cli"),
)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="kcnn", description="Classic convolutional networks in Keras 3.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for _, module in _COMMANDS:
        importlib.import_module(module).add_parser(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except ValueError as e:
        print(f"kcnn {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
