"""`kcnn models [PATTERN]`: lists the registered models."""

from kcnn.models._registry import list_models


def add_parser(subparsers):
    parser = subparsers.add_parser("models", help="list the registered models")
    parser.add_argument("pattern", nargs="?", default=None,
                        help="shell-style wildcard, e.g. 'resnet*'")
    parser.set_defaults(func=_run)


def _run(args):
    for name in list_models(args.pattern):
        print(name)
