"""`kcnn train`: trains a model from a TrainConfig; with no arguments, the offline quickstart.

    kcnn train                                   # LeNet-5 on the bundled digits, ~30 s on CPU
    kcnn train --model resnet20 --dataset cifar10 --epochs 164 --set augment=cifar
    kcnn train --config runs/x/config.json       # re-run (or resume) a saved config

Running the same command again after an interruption resumes from the last checkpoint.
"""

import argparse

from kcnn.train.config import TrainConfig
from kcnn.train.recipe import add_arguments, config_from_args, run, show_renamed_fields


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "train", help="train a model (no arguments: the offline LeNet-5 quickstart)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="a config.json to start from")
    parser.add_argument("--model", help="a registered model name (see `kcnn models`)")
    add_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args):
    show_renamed_fields()
    config = TrainConfig.load(args.config) if args.config else TrainConfig()
    run(config_from_args(config, args), smoke=args.smoke)
