"""Pretrained weights from the command line (issue 9, acceptance 4 and 5), with a resnet18
file made here (torchvision's fixture, seeded): `kcnn predict` and `kcnn export --model
--weights` agree on a JPEG, the SavedModel called in a fresh process that never imports
kcnn; fine-tuning on a folder of images made here runs through `kcnn train` and
recipes/finetune_folder.py, reloads with safe_mode=True and exports."""

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
from PIL import Image

from kcnn import cli
from kcnn.weights import FreshHeadWarning, catalogue, weights_preprocessing
from weights import torch_cases
from weights.local_catalogue import SERVE, local_records
from weights.pth_writer import tensor, write_pth

pytestmark = pytest.mark.slow  # training, exports and a fresh process
RECIPE = os.path.join(os.path.dirname(__file__), "..", "..", "recipes", "finetune_folder.py")
SIZE = 32  # the models are built at the preprocessing's image_size: resnet18's smallest


def _photo(height, width, seed):
    rng = np.random.default_rng(seed)
    x = np.arange(width)[None, :, None] / 9.0 + np.arange(height)[:, None, None] / 13.0
    pixels = 128 + 90 * np.sin(x * rng.uniform(0.5, 1.5, 3)) + rng.normal(0, 15, (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A resnet18 .pth, a folder of JPEGs in two classes, a query JPEG."""
    root = tmp_path_factory.mktemp("pretrained")
    rec = torch_cases.record("resnet18")
    state = torch_cases.state(rec)
    write_pth(root / "resnet18.pth", {k: tensor(v) for k, v in state.items()})
    for split, count in (("train", 4), ("test", 2)):
        for c, cls in enumerate(("cat", "dog")):
            (root / "images" / split / cls).mkdir(parents=True)
            for i in range(count):
                _photo(40, 50, seed=10 * c + i).save(root / "images" / split / cls / f"{i}.jpg")
    _photo(90, 120, seed=99).save(root / "query.jpg", quality=90)
    return root, state


def _top(output):
    """`(indices, names)` of the first image in `kcnn predict`'s output."""
    rows = [line.split(None, 3) for line in output.splitlines()[1:] if line.startswith("  ")]
    return [int(r[2]) for r in rows], [r[3] for r in rows]




def test_predict_and_the_exported_savedmodel_agree_on_a_jpeg(made, tmp_path, monkeypatch,
                                                            capsys):
    root, _ = made
    pth = root / "resnet18.pth"
    # weights="torchvision" from the catalogue, its record pointed at the file made here.
    _, records = local_records("resnet18", pth)
    monkeypatch.setattr(catalogue, "_records", lambda: records)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    # The weights' preprocessing (resize, crop 0.875, ImageNet mean/std, class names), at
    # SIZE×SIZE to keep the model small.
    prep = dataclasses.replace(weights_preprocessing("resnet18", "torchvision"),
                               image_size=(SIZE, SIZE))
    prep_file = prep.save(str(tmp_path))
    base = tmp_path / "serving" / "resnet18"
    assert cli.main(["export", "--model", "resnet18", "--weights", "torchvision",
                     "--preprocessing", prep_file, str(base), "--no-warmup"]) == 0
    assert "Exported version 1" in capsys.readouterr().out
    assert cli.main(["predict", "resnet18", "--weights", "torchvision", "--preprocessing",
                     prep_file, str(root / "query.jpg")]) == 0
    indices, names = _top(capsys.readouterr().out)
    assert len(indices) == 5 and names == [prep.class_names[i] for i in indices]
    proc = subprocess.run([sys.executable, "-c", SERVE, str(base / "1"),
                           str(root / "query.jpg")], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    served = json.loads(proc.stdout.strip().splitlines()[-1])
    assert served == {"kcnn": False, "indices": indices, "names": names}


def _recipe():
    spec = importlib.util.spec_from_file_location("finetune_folder", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _conv1(model):
    return np.asarray(model.get_layer("stem_conv").conv.kernel)


def test_fine_tuning_through_the_cli_and_the_recipe_reloads_and_exports(made, tmp_path,
                                                                        capsys):
    root, state = made
    pth, images = str(root / "resnet18.pth"), f"folder:{root / 'images'}"
    loaded = state["conv1.weight"].transpose(2, 3, 1, 0)  # OIHW -> HWIO
    frozen, tuned = tmp_path / "frozen", tmp_path / "tuned"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FreshHeadWarning)
        assert cli.main(["train", "--model", "resnet18", "--weights", pth, "--dataset",
                         images, "--smoke", "--set", f"image_size=[{SIZE},{SIZE}]",
                         "--set", "freeze_body=true", "--output", str(frozen)]) == 0
    assert any(w.category is FreshHeadWarning and "the head (predictions) is new for "
               "num_classes=2" in str(w.message) for w in caught)
    result = _recipe().main(["--dataset", images, "--weights", pth, "--smoke",
                             "--output", str(tuned)])
    assert result.config.weights == pth and result.config.image_size == [SIZE, SIZE]
    for run in (frozen, tuned):
        prep = json.loads((run / "preprocessing.json").read_text())
        assert (prep["crop_fraction"], prep["mean"], prep["class_names"]) == (
            0.875, [0.485, 0.456, 0.406], ["cat", "dog"])
    models = [keras.saving.load_model(run / "model.keras", safe_mode=True)
              for run in (frozen, tuned)]
    np.testing.assert_array_equal(_conv1(models[0]), loaded)   # frozen: as loaded
    assert not np.allclose(_conv1(models[1]), loaded)          # trained
    capsys.readouterr()
    # (--verify would add a fresh process and saved_model_cli, ~12 s: the test above
    # calls an export in a fresh process.)
    assert cli.main(["export", str(tuned), str(tmp_path / "serving"), "--no-warmup"]) == 0
    assert "Exported version 1" in capsys.readouterr().out
    assert cli.main(["predict", str(tuned), str(root / "query.jpg"), "--top-k", "2"]) == 0
    assert sorted(_top(capsys.readouterr().out)[1]) == ["cat", "dog"]
