"""`kcnn train`: trains a model from a TrainConfig; with no arguments, the offline quickstart.

    kcnn train                                   # LeNet-5 on the bundled digits, ~30 s on CPU
    kcnn train --model resnet20 --dataset cifar10 --epochs 164 --set augment=cifar
    kcnn train --config runs/x/config.json       # re-run (or resume) a saved config

Running the same command again after an interruption resumes from the last checkpoint.
"""

import argparse
import contextlib
import sys

from kcnn.train.config import TrainConfig

# What `--smoke` changes: one epoch of two tiny steps, one evaluation batch.
SMOKE = {"epochs": 1, "steps_per_epoch": 2, "eval_steps": 1, "global_batch_size": 4,
         "validate": False, "verbose": 2}


def add_common_arguments(parser):
    """The options shared by `kcnn train` and the recipes."""
    parser.add_argument("--dataset", help="'digits', a TFDS name or folder:PATH")
    parser.add_argument("--data-dir", help="TFDS data folder")
    parser.add_argument("--epochs", type=int, help="number of epochs")
    parser.add_argument("--batch-size", type=int, dest="global_batch_size",
                        help="global batch size (over all replicas)")
    parser.add_argument("--output", dest="output_dir", help="output folder")
    parser.add_argument("--strategy", choices=("auto", "mirrored", "multi_worker", "one_device"))
    parser.add_argument("--seed", type=int)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override any TrainConfig field (JSON values), repeatable")
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny run (2 steps, batch 4) that checks the whole path: on "
                             "the dataset if it is prepared in the data dir (or is digits "
                             "or a folder), else on TFDS mock data (random images from the "
                             "dataset's feature spec; no network, no download)")


def config_from_args(config, args, smoke=None):
    """Applies the command-line options to `config`; returns the new config."""
    changes = {k: getattr(args, k) for k in ("dataset", "data_dir", "epochs",
                                             "global_batch_size", "output_dir", "strategy",
                                             "seed", "model")
               if getattr(args, k, None) is not None}
    if args.smoke:
        smoke_changes = {**SMOKE, **(smoke or {})}
        if "output_dir" not in changes:
            smoke_changes["output_dir"] = config.output_dir.rstrip("/") + "-smoke"
        config = config.replace(**smoke_changes)
    return config.replace(**changes).override(args.set)


def run(config, smoke=False):
    """`fit(config)`, with a divergence reported as an error line and exit status 1.

    `smoke`: on `kcnn.data.smoke_data` (mock data when the TFDS dataset is not prepared).
    """
    from kcnn.data import smoke_data
    from kcnn.train.trainer import TrainingDiverged, fit
    try:
        with smoke_data(config.dataset, config.data_dir) if smoke else contextlib.nullcontext():
            return fit(config)
    except TrainingDiverged as e:
        print(f"kcnn train: {e}", file=sys.stderr)
        raise SystemExit(1)


def recipe_parser(description=None):
    """An argument parser with the options every recipe accepts."""
    parser = argparse.ArgumentParser(description=description)
    add_common_arguments(parser)
    return parser


def recipe_run(config, args, *, smoke=None):
    """Applies parsed recipe `args` (and `smoke` when `--smoke`) to `config` and trains."""
    return run(config_from_args(config, args, smoke), smoke=args.smoke)


def recipe_main(config, argv=None, *, smoke=None, description=None):
    """The `main` of a recipe script: its paper config, overridable from the command line.

    Args:
        config: the recipe's `TrainConfig`.
        argv: list of str or None (`sys.argv[1:]`).
        smoke: dict. Extra `--smoke` changes (a small `image_size`, say).
        description: str. The recipe's help text.

    Returns:
        The `FitResult`.
    """
    return recipe_run(config, recipe_parser(description).parse_args(argv), smoke=smoke)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "train", help="train a model (no arguments: the offline LeNet-5 quickstart)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="a config.json to start from")
    parser.add_argument("--model", help="a registered model name (see `kcnn models`)")
    add_common_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args):
    config = TrainConfig.load(args.config) if args.config else TrainConfig()
    run(config_from_args(config, args), smoke=args.smoke)
