"""By-hand check of issue 9's acceptance 4 at full size (minutes; the suite runs it with a
resnet18 at 64×64: tests/weights/test_cli_pretrained.py).

A resnet50 weights file is made locally (torchvision's resnet50 state-dict keys and shapes
from the fixture, seeded NumPy values) and the catalogue's resnet50 record pointed at it
(a file:// URL with its SHA-256 prefix), so that `weights="torchvision"` downloads it through
keras.utils.get_file into a temporary Keras cache. Then `kcnn export --model resnet50
--weights torchvision BASE` and `kcnn predict resnet50 --weights torchvision JPEG` (at the
weights' preprocessing: resize 232, crop 224), and the SavedModel is called with the JPEG in
a fresh Python process that never imports kcnn; the top-5 indices and class names must be
the same.

    PYTHONPATH=.:tests python tests/weights/check_predict_export.py
"""

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

from kcnn import cli
from kcnn.weights import catalogue
from weights import torch_cases
from weights.local_catalogue import SERVE, local_records
from weights.pth_writer import tensor, write_pth



def main():
    tmp = tempfile.mkdtemp(prefix="kcnn-check-")
    rec = torch_cases.record("resnet50")
    pth = os.path.join(tmp, "resnet50.pth")
    write_pth(pth, {k: tensor(v) for k, v in torch_cases.state(rec).items()})
    _, records = local_records("resnet50", pth)
    catalogue._records = lambda: records
    os.environ["KERAS_HOME"] = os.path.join(tmp, "keras_home")

    rng = np.random.default_rng(7)
    x = np.arange(400)[None, :, None] / 11.0 + np.arange(300)[:, None, None] / 7.0
    pixels = 128 + 90 * np.sin(x * [1.0, 0.6, 1.4]) + rng.normal(0, 20, (300, 400, 3))
    jpeg = os.path.join(tmp, "query.jpg")
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(jpeg, quality=90)

    base = os.path.join(tmp, "serving", "resnet50")
    assert cli.main(["export", "--model", "resnet50", "--weights", "torchvision", base]) == 0
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["predict", "resnet50", "--weights", "torchvision", jpeg]) == 0
    print(out.getvalue())
    rows = [line.split(None, 3) for line in out.getvalue().splitlines()[1:]]
    predicted = {"kcnn": False, "indices": [int(r[2]) for r in rows],
                 "names": [r[3] for r in rows]}
    proc = subprocess.run([sys.executable, "-c", SERVE, os.path.join(base, "1"), jpeg],
                          capture_output=True, text=True, check=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    served = json.loads(proc.stdout.strip().splitlines()[-1])
    print("kcnn predict:", predicted)
    print("SavedModel  :", served)
    assert served == predicted, "the SavedModel and kcnn predict disagree"
    print("OK: same top-5 indices and class names")


if __name__ == "__main__":
    main()
