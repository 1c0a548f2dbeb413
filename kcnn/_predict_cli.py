"""`kcnn predict MODEL|RUN_DIR IMAGE...`: the top classes of image files.

    kcnn predict resnet50 --weights torchvision cat.jpg dog.png
    kcnn predict runs/finetune photo.jpg --top-k 3
"""

import argparse
import os


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "predict", help="classify image files with pretrained weights or a trained run",
        description=__doc__ + "\nImages are preprocessed as the weights' (or the run's) "
                    "preprocessing.json says, as the exported SavedModel does.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", metavar="MODEL|RUN_DIR",
                        help="a model name (with --weights), a training run's folder or "
                             "a .keras file")
    parser.add_argument("images", metavar="IMAGE", nargs="+",
                        help="JPEG, PNG, GIF or BMP files")
    parser.add_argument("--weights", metavar="SOURCE_OR_FILE",
                        help="with a model name: 'torchvision', 'keras', 'torchvision:TAG' "
                             "(see `kcnn weights`) or a weights file")
    parser.add_argument("--preprocessing", default=None, metavar="JSON",
                        help="with a model name: a preprocessing.json to use instead of "
                             "the weights' (as `kcnn export --preprocessing`)")
    parser.add_argument("--top-k", type=int, default=5, help="classes per image (5)")
    parser.set_defaults(func=_run)


def _run(args):
    from kcnn.predict import load_predictor, predict_files

    if args.top_k < 1:
        raise ValueError(f"--top-k must be >= 1; got {args.top_k}.")
    for path in args.images:  # before a model is built or downloaded
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Image file {path!r} does not exist.")
    model, prep = load_predictor(args.target, weights=args.weights,
                                 preprocessing=args.preprocessing)
    results = predict_files(model, prep, args.images, top_k=args.top_k)
    for path, top in zip(args.images, results):
        print(path)
        for rank, (index, name, probability) in enumerate(top, start=1):
            print(f"  {rank}  {probability:.4f}  {index:>4}  {name or ''}".rstrip())
    return 0
