"""`kcnn summary MODEL [--input-shape H,W,C]`: prints the per-layer table of a model."""

import argparse


def _input_shape(text):
    parts = text.split(",")
    try:  # height and width may be None: a model for any size
        shape = tuple(None if i < 2 and v.strip() == "None" else int(v)
                      for i, v in enumerate(parts))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(d for d in shape if d is not None) < 1:
        raise argparse.ArgumentTypeError(
            f"--input-shape must be three positive ints H,W,C such as 224,224,3 (H and W "
            f"may be None: any size); got {text!r}")
    return shape


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "summary", help="print shapes, parameters, MACs and receptive fields per layer")
    parser.add_argument("model", help="a registered model name (see `kcnn models`)")
    parser.add_argument("--input-shape", type=_input_shape, default=None, metavar="H,W,C",
                        help="build the model for this input size instead of its default; "
                             "None,None,C builds it for any size (what depends on the size "
                             "is shown as '?')")
    parser.set_defaults(func=_run)


def _run(args):
    from kcnn.analysis import summarize
    from kcnn.models import get_model

    kwargs = {} if args.input_shape is None else {"input_shape": args.input_shape}
    print(summarize(get_model(args.model, **kwargs)))
