"""`kcnn models [PATTERN] [--details]`: lists the registered models (without Keras)."""

import sys

from kcnn.models._registry import close_names, list_models, model_info

_COLUMNS = ("name", "params", "GMACs", "default input", "weights")


def add_parser(subparsers):
    parser = subparsers.add_parser("models", help="list the registered models")
    parser.add_argument("pattern", nargs="?", default=None,
                        help="shell-style wildcard, e.g. 'resnet*'")
    parser.add_argument("--details", action="store_true",
                        help="a table: parameters, GMACs at the default input, default "
                             "input, published weights")
    parser.set_defaults(func=_run)


def _run(args):
    names = list_models(args.pattern)
    if not names:
        close = close_names(args.pattern.replace("*", "").replace("?", ""))
        hint = f" Close names: {', '.join(close)}." if close else ""
        print(f"kcnn models: no model matches {args.pattern!r}.{hint}", file=sys.stderr)
        return 1
    if not args.details:
        print("\n".join(names))
        return 0
    rows = [_COLUMNS, *(_row(model_info(name)) for name in names)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    right = (False, True, True, False, False)  # numbers right-aligned
    for row in rows:
        cells = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right)]
        print("  ".join(cells).rstrip())
    return 0


def format_gmacs(macs):
    """MACs in billions: two decimals, or two significant digits below 0.01."""
    gmacs = macs / 1e9
    return f"{gmacs:.2f}" if gmacs >= 0.01 else f"{gmacs:.2g}"


def _row(info):
    def known(value, fmt):
        return "?" if value is None else fmt(value)

    return (info.name,
            known(info.num_params, "{:,}".format),
            known(info.macs, format_gmacs),
            known(info.default_input_shape, lambda s: "×".join(map(str, s))),
            # The sources of its published weights (`kcnn weights NAME` lists the files).
            ",".join(dict.fromkeys(w.split(":")[0] for w in info.weights)) or "-")
