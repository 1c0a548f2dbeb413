"""`kcnn weights [PATTERN] [--source SOURCE]`: the catalogue of published weight files."""

import os
import sys

from kcnn.weights.catalogue import SOURCES, list_weights
from kcnn.weights.download import cache_dir

_COLUMNS = ("model", "source", "tag", "default", "acc@1", "acc@5", "MiB", "resize/crop",
            "cached")
_RIGHT = (False, False, False, False, True, True, True, False, False)


def add_parser(subparsers):
    parser = subparsers.add_parser("weights", help="list the published pretrained weights")
    parser.add_argument("pattern", nargs="?", default=None,
                        help="shell-style wildcard on the model name, e.g. 'resnet*'")
    parser.add_argument("--source", choices=SOURCES, default=None,
                        help="only the weights of this source")
    parser.set_defaults(func=_run)


def _run(args):
    records = list_weights(args.pattern, source=args.source)
    if not records:
        print(f"kcnn weights: no published weights match {args.pattern!r}"
              f"{'' if args.source is None else f' from {args.source}'}.", file=sys.stderr)
        return 1
    folder = cache_dir()
    rows = [_COLUMNS, *(_row(r, folder) for r in records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    for row in rows:
        cells = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, _RIGHT)]
        print("  ".join(cells).rstrip())
    print(f"\ncached: in {folder} (the hash is checked when the file is loaded)")
    return 0


def _row(record, folder):
    def known(value, fmt):
        return "-" if value is None else fmt.format(value)

    pre = record.preprocessing
    return (record.model, record.source, record.tag, "yes" if record.default else "",
            known(record.acc1, "{:.2f}"), known(record.acc5, "{:.2f}"),  # None: no top
            known(record.file_size_mib, "{:.1f}"),
            f"{pre['resize']}/{pre['crop']} {pre['channel_order']}",
            "yes" if os.path.exists(os.path.join(folder, record.file_name)) else "-")
