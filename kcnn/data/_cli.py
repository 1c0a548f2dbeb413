"""`kcnn prepare`: downloads and prepares a TFDS dataset, to train on it here or elsewhere.

    kcnn prepare cifar10 --data-dir /data/tfds     # writes /data/tfds/cifar10/<version>/

A machine without network trains on the copied folder: `--data-dir` (or `TFDS_DATA_DIR`)
pointing at the folder that holds `cifar10/`. Preparing needs the network, except for
datasets whose files are downloaded by hand (`imagenet2012`: into <data-dir>/downloads/manual).
"""

import argparse
import os


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "prepare", help="download and prepare a TFDS dataset (to train offline, elsewhere)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="a TFDS name: mnist, cifar10, imagenet2012, ...")
    parser.add_argument("--data-dir", help="TFDS data folder (default: $TFDS_DATA_DIR or "
                                           "~/tensorflow_datasets)")
    parser.set_defaults(func=_run)


def _run(args):
    from kcnn.data.tfds_prepare import prepare_tfds
    builder = prepare_tfds(args.dataset, args.data_dir)
    root = os.fspath(builder.data_dir_root)
    splits = ", ".join(f"{k}: {v.num_examples}" for k, v in sorted(builder.info.splits.items()))
    print(f"{builder.info.full_name} is prepared in {builder.data_dir} ({splits}).")
    print(f"To train on another machine, copy {os.path.join(root, builder.name)} into its "
          f"TFDS data folder and pass that folder as --data-dir (or set TFDS_DATA_DIR).")
