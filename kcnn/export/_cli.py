"""`kcnn export SOURCE BASE_DIR`: a trained model as a TF Serving SavedModel version (or,
with `--format onnx|litert`, an ONNX or LiteRT file; `--quantize int8`);
`kcnn export --model NAME --weights SOURCE BASE_DIR`: a pretrained one, at its weights'
preprocessing (with ImageNet's class names)."""

import os
import sys

from kcnn.preprocessing import FILENAME as PREPROCESSING_FILE

MODEL_FILE = "model.keras"


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "export", help="export a trained model as a versioned SavedModel for TF Serving "
                       "(or an ONNX / LiteRT file)",
        description="Writes BASE_DIR/<version>/ (SavedModel + warm-up requests, or "
                    "model.onnx / model.tflite) atomically. See docs/serving.md and "
                    "docs/deployment.md.")
    parser.add_argument("source", metavar="RUN_DIR_OR_MODEL_FILE", nargs="?",
                        help="a training run's folder (model.keras + preprocessing.json) "
                             "or a .keras file (or --model and --weights instead)")
    parser.add_argument("base_dir", metavar="BASE_DIR",
                        help="the model's base folder, as TF Serving's --model_base_path")
    parser.add_argument("--model", default=None, metavar="NAME",
                        help="instead of a run: a registered model with --weights")
    parser.add_argument("--weights", default=None, metavar="SOURCE_OR_FILE",
                        help="with --model: 'torchvision', 'keras', 'torchvision:TAG' or a "
                             "weights file; the preprocessing is the weights' (ImageNet's "
                             "class names where they classify)")
    parser.add_argument("--format", default="saved_model",
                        choices=("saved_model", "onnx", "litert"),
                        help="saved_model (TF Serving, default), onnx (onnxruntime) or "
                             "litert (.tflite); see docs/deployment.md")
    parser.add_argument("--quantize", default=None, choices=("int8",),
                        help="onnx/litert: post-training full-integer quantization, "
                             "calibrated on training images; reports held-out top-1 "
                             "before and after")
    parser.add_argument("--dataset", default=None, metavar="NAME",
                        help="with --quantize: the training data (as kcnn train "
                             "--dataset; default: the run's config.json)")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="with --quantize: TFDS data folder (default: the run's)")
    parser.add_argument("--calibration-images", type=int, default=None, metavar="N",
                        help="with --quantize: training images to calibrate on (256)")
    parser.add_argument("--max-top1-drop", type=float, default=1.0, metavar="POINTS",
                        help="with --quantize --verify: refuse the file if held-out top-1 "
                             "drops by more (1.0 percentage point)")
    parser.add_argument("--version", type=_version, default=None,
                        help="version number, 0 to 2**63-1 (default: one more than the "
                             "highest, or 1)")
    parser.add_argument("--preprocessing", default=None, metavar="JSON",
                        help="preprocessing.json to use (default: the one beside the model;"
                             " for a bare .keras file without one, pixels / 255)")
    parser.add_argument("--verify", action="store_true",
                        help="check the export in a fresh Python process and with "
                             "saved_model_cli before it is moved into place")
    parser.add_argument("--max-pixels", type=int, default=None, metavar="N",
                        help="serving_default refuses images whose header declares more than "
                             "N pixels (width x height), before decoding them (default "
                             "100000000)")
    parser.add_argument("--top-k", type=int, default=5, help="top classes returned (5)")
    parser.add_argument("--model-outputs", default="auto",
                        choices=("auto", "logits", "probabilities"),
                        help="what the model outputs (auto: probabilities only if it ends "
                             "in softmax)")
    parser.add_argument("--model-name", default=None,
                        help="model name in the warm-up requests (default: BASE_DIR's name)")
    parser.add_argument("--no-fold-bn", action="store_true",
                        help="keep BatchNorm as separate operations (by default it is folded "
                             "into the preceding convolution)")
    parser.add_argument("--no-warmup", action="store_true",
                        help="do not write assets.extra/tf_serving_warmup_requests")
    parser.set_defaults(func=_run)


def _version(text):
    """argparse type of --version: an int in TF Serving's int64 range."""
    import argparse
    try:
        version = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer; got {text!r}") from None
    if not 0 <= version <= 2**63 - 1:
        raise argparse.ArgumentTypeError(
            f"must be in [0, 2**63 - 1] (TF Serving's versions are int64); got {text}")
    return version


def resolve_source(source, preprocessing=None):
    """The model file and preprocessing file (or None) for `kcnn export SOURCE`.

    Raises:
        FileNotFoundError: if the run folder lacks `model.keras` or `preprocessing.json`,
            or a named file does not exist.
        ValueError: if a file is not a `.keras` model.
    """
    if os.path.isdir(source):
        model_file = os.path.join(source, MODEL_FILE)
        if not os.path.isfile(model_file):
            raise FileNotFoundError(
                f"Run folder {source!r} has no {MODEL_FILE}; expected a training run's "
                "output folder or a .keras file.")
        found = os.path.join(source, PREPROCESSING_FILE)
        if preprocessing is None and not os.path.isfile(found):
            raise FileNotFoundError(
                f"Run folder {source!r} has no {PREPROCESSING_FILE}; pass --preprocessing.")
    elif os.path.isfile(source):
        if not source.endswith(".keras"):
            raise ValueError(f"Model file {source!r} must be a .keras file.")
        model_file = source
        found = os.path.join(os.path.dirname(source), PREPROCESSING_FILE)
    else:
        raise FileNotFoundError(f"Model {source!r} does not exist (expected a run folder "
                                "or a .keras file).")
    if preprocessing is not None:
        if not os.path.isfile(preprocessing):
            raise FileNotFoundError(f"--preprocessing file {preprocessing!r} does not exist.")
        return model_file, preprocessing
    return model_file, found if os.path.isfile(found) else None


def _pretrained(args):
    """The model and preprocessing of `--model NAME --weights SOURCE`."""
    from kcnn.models import get_model
    from kcnn.preprocessing import Preprocessing
    from kcnn.weights.preprocessing import preprocessing_for_weights
    from kcnn.weights.pretrained import check_weights

    if args.source is not None:
        raise ValueError(f"give either a run ({args.source!r}) or --model/--weights, "
                         "not both.")
    if args.model is None or args.weights is None:
        raise ValueError("--model and --weights go together (a model name alone has "
                         "random weights).")
    check_weights(args.model, args.weights)
    if args.preprocessing is not None:
        if not os.path.isfile(args.preprocessing):
            raise FileNotFoundError(f"--preprocessing file {args.preprocessing!r} does not "
                                    "exist.")
        preprocessing = Preprocessing.load(args.preprocessing)
    else:
        preprocessing = preprocessing_for_weights(args.model, args.weights)
    model = get_model(args.model, weights=args.weights,
                      input_shape=(*preprocessing.image_size, preprocessing.channels))
    return model, preprocessing


def _run(args):
    from kcnn.export import VerificationError, export_saved_model
    from kcnn.preprocessing import Preprocessing
    from kcnn.saving import load_model

    try:
        if args.model is not None or args.weights is not None:
            model, preprocessing = _pretrained(args)
        else:
            if args.source is None:
                raise ValueError("give RUN_DIR_OR_MODEL_FILE BASE_DIR, or --model NAME "
                                 "--weights SOURCE BASE_DIR.")
            model_file, prep_file = resolve_source(args.source, args.preprocessing)
            preprocessing = Preprocessing.load(prep_file) if prep_file else None
            try:
                model = load_model(model_file)
            except Exception as e:  # noqa: BLE001  (any load failure: say which file)
                raise ValueError(f"Cannot load model file {model_file!r}: {e}") from e
            if prep_file is None:
                print(f"kcnn export: no {PREPROCESSING_FILE} beside {model_file!r}; using "
                      "the default (model input size, pixels / 255, mean 0, std 1).",
                      file=sys.stderr)
        if (args.format != "saved_model" or args.quantize or args.dataset
                or args.data_dir or args.calibration_images is not None):
            return _run_portable(args, model, preprocessing)
        result = export_saved_model(
            model, args.base_dir, version=args.version, preprocessing=preprocessing,
            top_k=args.top_k, model_outputs=args.model_outputs,
            model_name=args.model_name, warmup=not args.no_warmup, verify=args.verify,
            fold_bn=not args.no_fold_bn,
            **({} if args.max_pixels is None else {"max_pixels": args.max_pixels}))
    except OSError as e:
        raise ValueError(str(e)) from e
    except VerificationError as e:
        print(f"kcnn export: verification failed, nothing was written: {e}",
              file=sys.stderr)
        return 1
    print(f"Exported version {result.version} to {result.path} "
          f"(signatures serving_default, predict_images; {_softmax_text(result)}).")
    if result.verification:
        diffs = ", ".join(f"{name} batch {b}: {d:.2g}"
                          for name, per in result.verification["max_abs_diff"].items()
                          for b, d in per.items())
        print(f"Verified in a fresh Python process without kcnn (TensorFlow "
              f"{result.verification['tensorflow']}): max |SavedModel - Keras| {diffs}; "
              "saved_model_cli show lists both signatures as documented.")
    return 0


def _softmax_text(result):
    return ("softmax applied to the model's logits" if result.applies_softmax
            else "the model's own probabilities")


def _data_spec(args):
    """Where the calibration and held-out images of `--quantize` come from."""
    from kcnn.export.calibration import DataSpec

    if args.dataset is not None:
        spec = DataSpec.from_run(_run_dir(args.source)) if args.source else None
        if spec is not None and spec.dataset != args.dataset:
            spec = None  # another dataset than the run's: its splits are not known
        return spec or DataSpec(args.dataset, data_dir=args.data_dir)
    spec = DataSpec.from_run(_run_dir(args.source)) if args.source else None
    if spec is None:
        what = (f"{args.source!r} has no config.json beside it" if args.source
                else "--model has no training run")
        raise ValueError(f"--quantize int8 calibrates on training images, but {what}; "
                         "pass --dataset NAME (as kcnn train --dataset).")
    if args.data_dir is not None:
        spec = type(spec)(**{**spec.__dict__, "data_dir": args.data_dir})
    return spec


def _run_dir(source):
    return source if os.path.isdir(source) else os.path.dirname(os.path.abspath(source))


def _run_portable(args, model, preprocessing):
    """`kcnn export --format onnx|litert [--quantize int8]`."""
    from kcnn.export.portable import CALIBRATION_IMAGES, export_portable, require
    from kcnn.models.heads import inference_model
    from kcnn.preprocessing import Preprocessing

    given = [name for name, value in (("--dataset", args.dataset),
                                      ("--data-dir", args.data_dir),
                                      ("--calibration-images", args.calibration_images))
             if value is not None]
    if given and args.quantize is None:
        raise ValueError(f"{given[0]} is only used with --quantize int8 (calibration and "
                         "held-out top-1).")
    if args.format == "saved_model":
        raise ValueError(f"--quantize int8 needs --format onnx or litert (the SavedModel "
                         f"is float32); got --format {args.format}.")
    if args.max_pixels is not None or args.no_warmup or args.model_name is not None:
        raise ValueError(f"--max-pixels, --no-warmup and --model-name are SavedModel "
                         f"options; --format {args.format} takes decoded pixels "
                         "(docs/deployment.md).")
    n = CALIBRATION_IMAGES if args.calibration_images is None else args.calibration_images
    if n < 1:
        raise ValueError(f"--calibration-images must be >= 1; got {n}.")
    require(args.format)
    prep = Preprocessing.resolve(preprocessing, inference_model(model))
    calibration = evaluation = None
    if args.quantize:
        from kcnn.export.calibration import calibration_batches, evaluation_data
        spec = _data_spec(args)
        calibration = calibration_batches(spec, prep, n)
        evaluation = evaluation_data(spec, prep)
    # (Called inside _run's try: its OSError and VerificationError handling holds here.)
    result = export_portable(
        model, args.base_dir, args.format, version=args.version, preprocessing=prep,
        model_outputs=args.model_outputs, fold_bn=not args.no_fold_bn,
        verify=args.verify, quantize=args.quantize, calibration=calibration,
        evaluation=evaluation, max_top1_drop=args.max_top1_drop / 100)
    kind = f"{args.format} {args.quantize or 'float32'}"
    print(f"Exported version {result.version} to {result.file} ({kind}, "
          f"{result.size_bytes / 1e6:.2f} MB; input images float32 [batch, "
          f"{prep.image_size[0]}, {prep.image_size[1]}, {prep.channels}] pixels in "
          f"[0, 255], output probabilities; {_softmax_text(result)}).")
    if result.verification:
        diffs = ", ".join(f"batch {b}: {d:.2g}"
                          for b, d in result.verification["max_abs_diff"].items())
        print(f"Verified in a fresh Python process without kcnn "
              f"({result.verification['runtime']}): max |{args.format} - Keras| "
              f"probabilities {diffs}.")
    if result.accuracy:
        a = result.accuracy
        print(f"Held-out top-1 on {a['examples']} images ({args.quantize}, calibrated on "
              f"{sum(len(b) for b in calibration)} training images): Keras "
              f"{a['keras_top1']:.2%}, {args.format} {args.quantize} "
              f"{a['exported_top1']:.2%} (same top-1 as Keras on {a['agreement']:.2%}); "
              f"file {result.size_bytes} bytes ({args.quantize}), "
              f"{result.fp32_size_bytes} bytes (float32).")
    return 0
