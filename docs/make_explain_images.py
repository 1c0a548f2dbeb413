"""Makes the pictures of docs/explain.md (offline).

    kcnn train --output runs/quickstart          # the LeNet-5 quickstart, ~1 min
    python docs/make_explain_images.py --run runs/quickstart

Writes into docs/images/:

- explain_digit_*.png: `kcnn.explain.explain_image` of the quickstart run on a held-out
  digit (scikit-learn's digits, the run's own test split), 8×8 pixels drawn 16× larger.
- explain_photo_fields.png: on scikit-image's `chelsea` photo, the receptive fields of the
  centre unit of ResNet-50's four stages (kcnn.analysis; architecture only, so valid for
  any weights) at the torchvision weights' preprocessing (resize, centre crop 224), and
  the crop the model sees. Needs scikit-image (`pip install -e ".[docs]"`).

Each PNG is kept under 150 KB (the photo's is quantized to 256 colours).
"""

import argparse
import os
import shutil
import tempfile

import numpy as np
from PIL import Image

import kcnn
from kcnn.explain import explain_image, layer_fields, placement, unit_field
from kcnn.explain.pictures import draw_box
from kcnn.predict import load_predictor

IMAGES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "images")
MAX_BYTES = 150_000
STAGES = {"stage1_block3": (1.0, 1.0, 0.0), "stage2_block4": (0.0, 1.0, 0.0),
          "stage3_block6": (0.0, 0.8, 1.0), "stage4_block3": (1.0, 0.2, 0.2)}


def digit(run, out, index=0):
    from kcnn.data.sources import load_source

    model, prep = load_predictor(run)
    test = load_source("digits", "test")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "digit.png")
        Image.fromarray(test.images[index][..., 0]).save(path)
        result = explain_image(model, prep, path, tmp, zoom=16)
        for kind, file in result.files.items():
            shutil.copy(file, os.path.join(out, f"explain_digit_{os.path.basename(file)}"))
    p = result.probabilities
    print(f"digit: label {test.labels[index]}, predicted {int(p.argmax())} "
          f"(probability {p.max():.4f}); Grad-CAM at {result.cam.layer}, receptive field "
          f"of unit {result.field.unit}: {result.field.box} of the 32×32 input")


def photo_fields(out):
    from skimage import data

    from kcnn.weights.preprocessing import preprocessing_for_weights

    photo = data.chelsea()  # 300×451 RGB, ships with scikit-image
    prep = preprocessing_for_weights("resnet50", "torchvision")  # no download: the catalogue
    model = kcnn.models.resnet50(input_shape=(*prep.image_size, 3))  # random weights
    fields = layer_fields(model)
    place = placement(prep, photo.shape[:2])
    picture = photo.astype(np.float64) / 255.0
    crop = [place.to_original(e, a) for e, a in ((0, 0), (0, 1), (224, 0), (224, 1))]
    draw_box(picture, crop, colour=(1.0, 1.0, 1.0), width=1)
    for layer, colour in STAGES.items():
        height, width = model.get_layer(layer).output.shape[1:3]
        field = unit_field(model, layer, (height // 2, width // 2), fields)
        top, left, bottom, right = field.box
        box = (place.to_original(top, 0), place.to_original(left, 1),
               place.to_original(bottom + 1, 0), place.to_original(right + 1, 1))
        draw_box(picture, box, colour=colour, width=2)
        print(f"photo: {layer} unit {field.unit}: field {field.size[0]}×{field.size[1]}, "
              f"jump {field.jump[0]}, input rows {top}..{bottom}")
    path = os.path.join(out, "explain_photo_fields.png")
    Image.fromarray(np.round(picture * 255).astype(np.uint8)).quantize(256).save(
        path, optimize=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default="runs/quickstart", help="the quickstart run")
    parser.add_argument("--out", default=IMAGES)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    digit(args.run, args.out)
    photo_fields(args.out)
    for name in sorted(os.listdir(args.out)):
        if name.startswith("explain_"):
            size = os.path.getsize(os.path.join(args.out, name))
            print(f"{name}: {size:,} bytes")
            assert size < MAX_BYTES, name


if __name__ == "__main__":
    main()
