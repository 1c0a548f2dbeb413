"""Folder datasets: labels from sub-folders; unreadable files skipped-and-counted or an error."""

import io
import os

import numpy as np
import pytest
from PIL import Image

from kcnn.data import Preprocessing, eval_batches, load_source, train_batches

COLOURS = {"cat": 40, "dog": 200}  # each class's images are one grey level


def _jpeg(value, size=(12, 10)):
    buffer = io.BytesIO()
    Image.fromarray(np.full((*size, 3), value, np.uint8)).save(buffer, format="JPEG",
                                                              quality=95)
    return buffer.getvalue()


@pytest.fixture
def folder(tmp_path):
    for cls, value in COLOURS.items():
        for split, count in (("train", 6), ("test", 2)):
            directory = tmp_path / split / cls
            directory.mkdir(parents=True)
            for i in range(count):
                (directory / f"{i}.jpg").write_bytes(_jpeg(value))
    good = _jpeg(COLOURS["cat"], size=(64, 64))
    (tmp_path / "train" / "cat" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (tmp_path / "train" / "dog" / "empty.jpg").write_bytes(b"")
    (tmp_path / "train" / "dog" / "notes.png").write_text("not an image\n")
    (tmp_path / "train" / "dog" / "readme.txt").write_text("ignored: not an image name")
    return tmp_path


def test_skip_warns_counts_and_keeps_labels_right(folder):
    with pytest.warns(UserWarning, match=r"Skipped 3 of 15 files") as record:
        source = load_source(f"folder:{folder}", "train", on_error="skip")
    message = str(record[0].message)
    for name in ("truncated.jpg", "empty.jpg", "notes.png"):
        assert name in message
    assert source.num_examples == 12 and source.class_names == ("cat", "dog")
    assert sorted(os.path.basename(p) for p, _ in source.skipped) == [
        "empty.jpg", "notes.png", "truncated.jpg"]
    prep = Preprocessing(image_size=(8, 8), channels=3, scale=1.0, mean=(0, 0, 0),
                         std=(1, 1, 1), class_names=source.class_names)
    seen = 0
    for images, labels in train_batches(source, prep, global_batch_size=4, seed=3, epoch=1):
        for image, label in zip(images.numpy(), labels.numpy()):
            expected = COLOURS[source.class_names[label]]
            assert abs(image.mean() - expected) < 3  # JPEG rounding; never the other class
            seen += 1
    assert seen == 12


def test_raise_names_the_file(folder):
    with pytest.raises(ValueError, match=r"cannot read image file '.*(truncated\.jpg|empty\.jpg|"
                                         r"notes\.png)'.*3 unreadable"):
        load_source(f"folder:{folder}", "train", on_error="raise")


def test_test_split_and_bad_arguments(folder, tmp_path):
    source = load_source(str(folder), "test", on_error="raise")  # a plain path works too
    assert source.num_examples == 4 and list(source.labels) == [0, 0, 1, 1]
    prep = Preprocessing(image_size=(5, 7), channels=3)
    images, labels = next(iter(eval_batches(source, prep, batch_size=4)))
    assert images.shape == (4, 5, 7, 3)
    with pytest.raises(ValueError, match="on_error"):
        load_source(str(folder), "train", on_error="ignore")
    with pytest.raises(ValueError, match="no 'validation' sub-folder"):
        load_source(str(folder), "validation")
    with pytest.raises(ValueError, match="does not exist"):
        load_source(f"folder:{tmp_path / 'missing'}", "train")
    (tmp_path / "flat").mkdir()
    with pytest.raises(ValueError, match="no class sub-folders"):
        load_source(f"folder:{tmp_path / 'flat'}", "train")


def test_fit_on_a_folder_with_corrupt_files(folder, tmp_path):
    from kcnn.train import TrainConfig, fit
    with pytest.warns(UserWarning, match="Skipped 3"):
        result = fit(TrainConfig(dataset=f"folder:{folder}", global_batch_size=4, epochs=1,
                                 verbose=0, output_dir=str(tmp_path / "run")))
    assert result.preprocessing.class_names == ("cat", "dog")
    assert result.model.output_shape == (None, 2)
    assert result.metrics["top1"] is not None
