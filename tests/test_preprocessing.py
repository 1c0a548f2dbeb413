"""The preprocessing contract: one definition for data, train and export; its file."""

import json
import os
import subprocess
import sys

import pytest

import kcnn
from kcnn.preprocessing import FILENAME, Preprocessing

GOOD = {"image_size": [32, 32], "channels": 3, "scale": 1 / 255,
        "mean": [0.49, 0.48, 0.45], "std": [0.25, 0.24, 0.26], "class_names": None}
KCNN_DIR = os.path.dirname(os.path.abspath(kcnn.__file__))


def test_round_trip_through_the_file(tmp_path):
    prep = Preprocessing(image_size=(32, 32), channels=1, scale=1 / 255, mean=(0.3,),
                         std=(0.4,), class_names=[str(i) for i in range(10)])
    path = prep.save(str(tmp_path))
    assert path == str(tmp_path / FILENAME)
    assert json.loads(open(path).read()) == {
        "image_size": [32, 32], "channels": 1, "scale": 1 / 255, "mean": [0.3],
        "std": [0.4], "class_names": [str(i) for i in range(10)]}
    loaded = Preprocessing.load(str(tmp_path))  # the folder or the file
    assert loaded == prep == Preprocessing.load(path)
    assert loaded.source == path and prep.source is None  # not part of the contract


def test_defaults_and_normalized_values():
    prep = Preprocessing(image_size=[8, 8], channels=3, scale=1)
    assert prep.mean == (0.0, 0.0, 0.0) and prep.std == (1.0, 1.0, 1.0)
    assert prep.image_size == (8, 8) and isinstance(prep.scale, float)
    assert Preprocessing.from_dict(dict(GOOD, scale=1)).to_dict() == dict(GOOD, scale=1.0)


# Files as earlier kcnn versions wrote them: the trainer (kcnn.data.Preprocessing.save,
# indent 2 and a newline) and the exporter (json.dump of its checked dict, no newline).
OLD_TRAINER_FILE = """{
  "image_size": [
    32,
    32
  ],
  "channels": 1,
  "scale": 0.00392156862745098,
  "mean": [
    0.305533
  ],
  "std": [
    0.375947
  ],
  "class_names": [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"
  ]
}
"""
OLD_EXPORT_FILE = ('{"image_size": [65, 65], "channels": 3, "scale": 0.00392156862745098, '
                   '"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0], "class_names": null}')


@pytest.mark.parametrize("text, expected", [
    (OLD_TRAINER_FILE, Preprocessing((32, 32), 1, 1 / 255, (0.305533,), (0.375947,),
                                     tuple("0123456789"))),
    (OLD_EXPORT_FILE, Preprocessing((65, 65), 3)),
])
def test_files_of_earlier_versions_still_load(text, expected, tmp_path):
    (tmp_path / FILENAME).write_text(text)
    assert Preprocessing.load(tmp_path) == expected


@pytest.mark.parametrize("field, value, words", [
    ("image_size", [32], "`image_size` must be [height, width]"),
    ("image_size", [32, 0], "`image_size` must be [height, width]"),
    ("channels", 2, "`channels` must be one of (1, 3)"),
    ("scale", 0, "`scale` must be a number > 0"),
    ("scale", float("nan"), "`scale` must be a number > 0"),
    ("mean", [0.5], "`mean` must be a list of 3 numbers"),
    ("std", [1, 0, 1], "`std` must be a list of 3 numbers > 0"),
    ("class_names", [], "`class_names` must be null or a non-empty list"),
    ("class_names", ["a", 1], "`class_names` must be null or a non-empty list"),
    ("crop_fraction", 0, "`crop_fraction` must be null or a number in (0, 1]"),
    ("crop_fraction", 1.5, "`crop_fraction` must be null or a number in (0, 1]"),
    ("crop_fraction", "0.875", "`crop_fraction` must be null or a number in (0, 1]"),
    ("channel_order", "bgr", "`channel_order` must be one of ('RGB', 'BGR')"),
    ("antialias", 1, "`antialias` must be true or false"),
])
def test_bad_field_names_the_field(field, value, words):
    with pytest.raises(ValueError) as e:
        Preprocessing.from_dict(dict(GOOD, **{field: value}))
    assert str(e.value).startswith("preprocessing: ") and words in str(e.value)
    with pytest.raises(ValueError, match=r"^Preprocessing: `"):
        Preprocessing(**dict(GOOD, **{field: value}))


def test_crop_channel_order_and_antialias_round_trip(tmp_path):
    # torchvision's evaluation (resize 256, crop 224) and keras.applications' caffe VGG.
    data = dict(GOOD, image_size=[224, 224], scale=1.0, mean=[103.939, 116.779, 123.68],
                std=[1, 1, 1], crop_fraction=0.875, channel_order="BGR", antialias=True)
    prep = Preprocessing.from_dict(data)
    assert prep.resize_size == 256 and Preprocessing(image_size=(224, 224), channels=3,
                                                     crop_fraction=224 / 232).resize_size == 232
    prep.save(tmp_path)
    assert json.loads((tmp_path / FILENAME).read_text()) == dict(data, std=[1.0] * 3)
    assert Preprocessing.load(tmp_path) == prep
    # The optional keys are written only where they differ from what files without them
    # mean, so files of the old schema are written as before.
    assert Preprocessing.from_dict(GOOD).to_dict() == GOOD
    with pytest.raises(ValueError, match=r"`crop_fraction` needs a square `image_size`; got "
                                         r"image_size=\[224, 200\]"):
        Preprocessing.from_dict(dict(data, image_size=[224, 200]))
    with pytest.raises(ValueError, match="`channel_order`='BGR' needs 3 channels"):
        Preprocessing(image_size=(8, 8), channels=1, channel_order="BGR")


def test_missing_and_unknown_keys():
    bad = {k: v for k, v in GOOD.items() if k != "std"}
    bad["stdev"] = [1, 1, 1]
    with pytest.raises(ValueError, match=r"missing \['std'\], unknown \['stdev'\]"):
        Preprocessing.from_dict(bad)
    # `class_names` came after the first five keys: it may be missing.
    without = {k: v for k, v in GOOD.items() if k != "class_names"}
    assert Preprocessing.from_dict(without).class_names is None


def test_load_names_the_file_and_the_field(tmp_path):
    path = tmp_path / FILENAME
    with pytest.raises(FileNotFoundError, match="preprocessing.json"):
        Preprocessing.load(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match=f"{path}' is not valid JSON"):
        Preprocessing.load(path)
    path.write_text(json.dumps(dict(GOOD, channels=5)))
    with pytest.raises(ValueError, match=f"^{path}: `channels` must be one of"):
        Preprocessing.load(path)
    path.write_text(json.dumps(GOOD))
    assert Preprocessing.load(path).to_dict() == GOOD


def test_must_agree_with_the_model(tmp_path):
    model = kcnn.models.resnet20()  # (32, 32, 3), 10 classes
    assert Preprocessing.from_dict(GOOD).check_model(model).channels == 3
    with pytest.raises(ValueError, match="`channels`=1 but model 'resnet20' takes 3-channel"):
        Preprocessing.from_dict(dict(GOOD, channels=1, mean=[0], std=[1])).check_model(model)
    (tmp_path / FILENAME).write_text(json.dumps(dict(GOOD, image_size=[28, 32])))
    with pytest.raises(ValueError, match=rf"^{tmp_path / FILENAME}: `image_size`=\[28, 32\] "
                                         r"but model 'resnet20' has input height 32"):
        Preprocessing.load(tmp_path).check_model(model)  # the file is named
    with pytest.raises(ValueError, match="`class_names` has 2 names but model 'resnet20' "
                                         "predicts 10 classes"):
        Preprocessing.from_dict(dict(GOOD, class_names=["a", "b"])).check_model(model)


def test_default_is_pixels_over_255_at_the_model_size():
    assert Preprocessing.default_for(kcnn.models.lenet5()).to_dict() == {
        "image_size": [32, 32], "channels": 1, "scale": 1 / 255, "mean": [0.0],
        "std": [1.0], "class_names": None}
    assert Preprocessing.resolve(None, kcnn.models.lenet5()).image_size == (32, 32)
    with pytest.raises(ValueError, match="must be a Preprocessing, a dict or None"):
        Preprocessing.resolve([32, 32], kcnn.models.lenet5())


def test_one_definition_shared_by_data_and_export_without_tensorflow():
    import kcnn.data
    import kcnn.export.saved_model as saved_model
    assert kcnn.data.Preprocessing is Preprocessing
    assert saved_model.Preprocessing is Preprocessing
    assert not os.path.exists(os.path.join(KCNN_DIR, "export", "preprocessing.py"))
    # The contract and kcnn.io import neither TensorFlow nor Keras: loaded here with both
    # blocked (and without kcnn/__init__.py, which imports Keras for the models).
    code = f"""
import importlib.abc, sys, types
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras"):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
package = types.ModuleType("kcnn")
package.__path__ = [{KCNN_DIR!r}]
sys.modules["kcnn"] = package
from kcnn.preprocessing import Preprocessing
print(Preprocessing((4, 4), 1).to_dict()["image_size"])
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[4, 4]"
