"""`kcnn explain RUN_DIR|MODEL.keras|NAME IMAGE --out DIR`: what the network looks at.

    kcnn explain runs/quickstart digit.png --out explain/ --zoom 8
    kcnn explain resnet50 --weights torchvision cat.jpg --out explain/ --class tabby

Writes gradcam.png (Grad-CAM of the class, on the image), receptive_field.png (the field
of one unit of the same layer, from kcnn.analysis), feature_maps.png (a layer's maps) and
filters.png (the first convolution's filters). See docs/explain.md.
"""

import argparse
import os


def _unit(text):
    try:
        row, column = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be ROW,COLUMN (two ints, the unit's position in the layer's map); got "
            f"{text!r}") from None
    return row, column


def _zoom(text):
    try:
        zoom = int(text)
    except ValueError:
        zoom = 0
    if zoom < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1; got {text!r}")
    return zoom


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "explain", help="Grad-CAM, feature maps, filters and a receptive field as PNGs",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", metavar="RUN_DIR|MODEL",
                        help="a training run's folder, a .keras file, or a model name "
                             "with --weights")
    parser.add_argument("image", metavar="IMAGE", help="a JPEG, PNG, GIF or BMP file")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for the PNGs (created; the four files are replaced)")
    parser.add_argument("--weights", metavar="SOURCE_OR_FILE",
                        help="with a model name: 'torchvision', 'keras', 'torchvision:TAG' "
                             "or a weights file (as `kcnn predict`)")
    parser.add_argument("--preprocessing", metavar="JSON",
                        help="with a model name: a preprocessing.json instead of the "
                             "weights'")
    parser.add_argument("--layer", metavar="NAME",
                        help="the layer to explain (default: the last convolutional stage "
                             "with more than one position; `kcnn summary` lists them)")
    parser.add_argument("--features-layer", metavar="NAME",
                        help="the layer whose feature maps are drawn (default: --layer)")
    parser.add_argument("--class", dest="class_", metavar="INDEX_OR_NAME",
                        help="the class to explain (default: the predicted one)")
    parser.add_argument("--unit", type=_unit, metavar="ROW,COLUMN",
                        help="the unit of --layer whose receptive field is drawn (default: "
                             "the Grad-CAM peak)")
    parser.add_argument("--zoom", type=_zoom, default=1, metavar="N",
                        help="draw the overlays N times the image's size (default 1: its "
                             "own size; e.g. 8 for an 8x8 digit)")
    parser.set_defaults(func=_run)


def class_index(text, prep, num_classes):
    """The class index `--class TEXT` names: an index, or one of the class names."""
    if text is None:
        return None
    names = list(prep.class_names or ())
    if text in names:
        return names.index(text)
    try:
        index = int(text)
    except ValueError:
        import difflib

        close = difflib.get_close_matches(text, names, n=5)
        hint = (f"close names: {', '.join(close)}" if close else
                "the run has no class names" if not names else
                f"names: {', '.join(names[:10])}{', ...' if len(names) > 10 else ''}")
        raise ValueError(f"--class {text!r} is neither a class index nor a class name "
                         f"({hint}).") from None
    if not 0 <= index < num_classes:
        raise ValueError(f"--class {index} is out of range: the model has {num_classes} "
                         f"classes (0..{num_classes - 1}).")
    return index


def _name(prep, index):
    return f" {prep.class_names[index]!r}" if prep.class_names else ""


def _run(args):
    from kcnn.explain import explain_image
    from kcnn.predict import load_predictor

    if not os.path.isfile(args.image):  # before a model is loaded or built
        raise FileNotFoundError(f"Image file {args.image!r} does not exist.")
    model, prep = load_predictor(args.target, weights=args.weights,
                                 preprocessing=args.preprocessing)
    index = class_index(args.class_, prep, model.output.shape[-1])
    result = explain_image(model, prep, args.image, args.out, layer=args.layer,
                           class_index=index, unit=args.unit,
                           features_layer=args.features_layer, zoom=args.zoom)
    cam, p = result.cam, result.probabilities
    top = int(p.argmax())
    print(f"predicted: class {top}{_name(prep, top)} (probability {p[top]:.4f})")
    print(f"Grad-CAM: class {cam.class_index}{_name(prep, cam.class_index)}, layer "
          f"{cam.layer!r} ({'×'.join(str(v) for v in cam.activations.shape)}), peak at "
          f"unit {tuple(int(v) for v in divmod(int(cam.map.argmax()), cam.map.shape[1]))}")
    f = result.field
    top_, left, bottom, right = f.box
    b = result.box
    print(f"receptive field of unit {f.unit} of {f.layer!r} (kcnn.analysis): "
          f"{f.size[0]}×{f.size[1]} input pixels, rows {top_}..{bottom}, columns "
          f"{left}..{right} of the {prep.image_size[0]}×{prep.image_size[1]} input "
          f"(jump {f.jump[0]}×{f.jump[1]}); on the image: rows {b[0]:.1f}..{b[2]:.1f}, "
          f"columns {b[1]:.1f}..{b[3]:.1f}")
    height, width = result.size
    for kind, path in result.files.items():
        size = f" ({width}×{height})" if kind in ("gradcam", "receptive_field") else ""
        print(f"wrote {path}{size}")
    return 0
