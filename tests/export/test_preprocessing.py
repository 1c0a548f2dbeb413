"""Preprocessing dicts: schema checks, agreement with the model, the default."""

import json

import pytest

import kcnn
from kcnn.export import check_preprocessing, default_preprocessing, load_preprocessing

GOOD = {"image_size": [32, 32], "channels": 3, "scale": 1 / 255,
        "mean": [0.49, 0.48, 0.45], "std": [0.25, 0.24, 0.26], "class_names": None}


def test_good_dict_is_normalized():
    p = check_preprocessing(dict(GOOD, image_size=(32, 32), scale=1))
    assert p == dict(GOOD, scale=1.0)
    assert isinstance(p["scale"], float) and isinstance(p["image_size"], list)


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
])
def test_bad_field_names_the_field(field, value, words):
    with pytest.raises(ValueError) as e:
        check_preprocessing(dict(GOOD, **{field: value}))
    assert words in str(e.value)


def test_missing_and_unknown_keys():
    bad = {k: v for k, v in GOOD.items() if k != "std"}
    bad["stdev"] = [1, 1, 1]
    with pytest.raises(ValueError, match=r"missing \['std'\], unknown \['stdev'\]"):
        check_preprocessing(bad)


def test_must_agree_with_the_model():
    model = kcnn.models.resnet20()  # (32, 32, 3), 10 classes
    assert check_preprocessing(GOOD, model)["channels"] == 3
    with pytest.raises(ValueError, match="`channels`=1 but model 'resnet20' takes 3-channel"):
        check_preprocessing(dict(GOOD, channels=1, mean=[0], std=[1]), model)
    with pytest.raises(ValueError, match=r"`image_size`=\[28, 32\] but model 'resnet20' has "
                                         r"input height 32"):
        check_preprocessing(dict(GOOD, image_size=[28, 32]), model)


def test_default_is_pixels_over_255_at_the_model_size():
    assert default_preprocessing(kcnn.models.lenet5()) == {
        "image_size": [32, 32], "channels": 1, "scale": 1 / 255, "mean": [0.0],
        "std": [1.0], "class_names": None}


def test_load_names_the_file(tmp_path):
    path = tmp_path / "preprocessing.json"
    with pytest.raises(FileNotFoundError, match="preprocessing.json"):
        load_preprocessing(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        load_preprocessing(path)
    path.write_text(json.dumps(dict(GOOD, channels=5)))
    with pytest.raises(ValueError, match=f"{path}.*`channels` must be one of"):
        load_preprocessing(path)
    path.write_text(json.dumps(GOOD))
    assert load_preprocessing(path) == GOOD
