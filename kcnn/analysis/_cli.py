"""`kcnn summary MODEL [--input-shape H,W,C]`: prints the per-layer table of a model."""

import argparse


def _input_shape(text):
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(
            f"--input-shape must be three positive ints H,W,C such as 224,224,3; got {text!r}")
    return shape


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "summary", help="print shapes, parameters, MACs and receptive fields per layer")
    parser.add_argument("model", help="a registered model name (see `kcnn models`)")
    parser.add_argument("--input-shape", type=_input_shape, default=None, metavar="H,W,C",
                        help="build the model for this input size instead of its default")
    parser.set_defaults(func=_run)


def _run(args):
    from kcnn.analysis import summarize
    from kcnn.models import get_model

    kwargs = {} if args.input_shape is None else {"input_shape": args.input_shape}
    print(summarize(get_model(args.model, **kwargs)))
