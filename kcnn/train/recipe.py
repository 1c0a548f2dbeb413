"""The command line of a recipe script (and of `kcnn train`): a TrainConfig, overridable.

A recipe is a paper's `TrainConfig` and one call:

    from kcnn.train import TrainConfig
    from kcnn.train.recipe import recipe_main

    CONFIG = TrainConfig(model="lenet5", dataset="mnist", epochs=20, ...)

    if __name__ == "__main__":
        recipe_main(CONFIG, sys.argv[1:], description=__doc__)

`--dataset`, `--data-dir`, `--epochs`, `--batch-size`, `--output`, `--strategy`, `--seed`,
`--weights`, `--set FIELD=VALUE` (any field, repeatable) and `--smoke` (a tiny run that checks the
whole path) then work on it.
"""

import argparse
import contextlib
import sys
import warnings

from kcnn.train.config import RenamedFieldWarning

# What `--smoke` changes: one epoch of two tiny steps, one evaluation batch.
SMOKE = {"epochs": 1, "max_steps_per_epoch": 2, "max_eval_steps": 1, "global_batch_size": 4,
         "validate": False, "verbose": 2}
# Options → the TrainConfig fields they set (argparse `dest` is the field's name).
_FIELDS = ("dataset", "data_dir", "epochs", "global_batch_size", "output_dir", "strategy",
           "seed", "model", "weights")


def add_arguments(parser):
    """Adds the options shared by `kcnn train` and the recipes to `parser`."""
    parser.add_argument("--dataset", help="'digits', a TFDS name or folder:PATH")
    parser.add_argument("--data-dir", help="TFDS data folder")
    parser.add_argument("--epochs", type=int, help="number of epochs")
    parser.add_argument("--batch-size", type=int, dest="global_batch_size",
                        help="global batch size (over all replicas)")
    parser.add_argument("--output", dest="output_dir", help="output folder")
    parser.add_argument("--strategy", choices=("auto", "mirrored", "multi_worker", "one_device"))
    parser.add_argument("--seed", type=int)
    parser.add_argument("--weights", metavar="SOURCE_OR_FILE",
                        help="start from published weights ('torchvision', 'keras', "
                             "'torchvision:TAG') or a weights file: a new head for the "
                             "dataset's classes, at the weights' preprocessing; the body "
                             "trains too unless --set freeze_body=true")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override any TrainConfig field (JSON values), repeatable")
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny run (2 steps, batch 4) that checks the whole path: on "
                             "the dataset if it is prepared in the data dir (or is digits "
                             "or a folder), else on TFDS mock data (random images from the "
                             "dataset's feature spec; no network, no download)")


def show_renamed_fields():
    """Shows `RenamedFieldWarning`s (hidden by default, as every DeprecationWarning) to a
    command-line user, whose config.json or `--set` uses an old field name."""
    warnings.simplefilter("default", RenamedFieldWarning)


def config_from_args(config, args, smoke=None):
    """Applies the parsed options to `config`; returns the new config.

    Args:
        config: a `TrainConfig`.
        args: an `argparse.Namespace` from a parser with `add_arguments`.
        smoke: dict or None. Extra `--smoke` changes (a small `image_size`, say).
    """
    changes = {k: getattr(args, k) for k in _FIELDS if getattr(args, k, None) is not None}
    if args.smoke:
        smoke_changes = {**SMOKE, **(smoke or {})}
        if "output_dir" not in changes:
            smoke_changes["output_dir"] = config.output_dir.rstrip("/") + "-smoke"
        config = config.replace(**smoke_changes)
    return config.replace(**changes).override(args.set)


def run(config, smoke=False):
    """`fit(config)`, with a divergence reported as an error line and exit status 1.

    Args:
        config: a `TrainConfig`.
        smoke: bool. Train on `kcnn.data.smoke_data` (TFDS mock data when the dataset is
            not prepared). Defaults to `False`.
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
    """An argument parser with the options every recipe accepts (`add_arguments`)."""
    parser = argparse.ArgumentParser(description=description)
    add_arguments(parser)
    return parser


def recipe_run(config, args, *, smoke=None):
    """Applies parsed recipe `args` (and `smoke` when `--smoke`) to `config` and trains.

    Returns:
        The `FitResult`.
    """
    show_renamed_fields()
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
