"""Folder datasets: labels from sub-folders; unreadable files skipped-and-counted or an error."""

import io
import os

import numpy as np
import pytest
from PIL import Image

from kcnn.data import Preprocessing, channel_stats, eval_batches, load_source, train_batches

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


def _save(path, array, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format=fmt)


def test_bmp_and_gif_are_read_for_a_one_channel_model(tmp_path):
    """One decoder for training and serving: BMP and GIF were skipped as unreadable here."""
    grey = {"bmp": 30, "gif": 220, "png": 128}
    for cls, value in grey.items():
        for i in range(2):
            _save(tmp_path / cls / f"{i}.{cls}", np.full((6, 9), value, np.uint8))
    source = load_source(str(tmp_path), "train", channels=1, on_error="raise", holdout=0.5)
    assert source.skipped == () and source.num_examples == 3
    prep = Preprocessing(image_size=(6, 9), channels=1, scale=1.0)
    images, labels = next(iter(eval_batches(source, prep, batch_size=3)))
    assert sorted(labels.numpy()) == [0, 1, 2]
    for image, label in zip(images.numpy(), labels.numpy()):
        np.testing.assert_array_equal(image, grey[source.class_names[label]])


def test_images_over_max_pixels_are_skipped_or_an_error(tmp_path):
    from data.test_decode import header_only_png
    for cls in ("a", "b"):
        for i in range(2):
            _save(tmp_path / "train" / cls / f"{i}.png", np.full((10, 10), 50, np.uint8))
    (tmp_path / "train" / "a" / "bomb.png").write_bytes(header_only_png(23000, 23000))
    _save(tmp_path / "train" / "b" / "big.png", np.zeros((10, 11), np.uint8))  # 110 pixels
    with pytest.warns(UserWarning, match=r"Skipped 2 of 6 files") as record:
        source = load_source(str(tmp_path), "train", on_error="skip", max_pixels=100)
    assert source.num_examples == 4
    reasons = dict((os.path.basename(p), r) for p, r in source.skipped)
    assert reasons == {
        "bomb.png": "its header declares 23000x23000 = 529000000 pixels, more than "
                    "max_pixels=100 (refused before decoding)",
        "big.png": "its header declares 11x10 = 110 pixels, more than max_pixels=100 "
                   "(refused before decoding)"}
    assert "bomb.png" in str(record[0].message)
    with pytest.raises(ValueError, match=r"cannot read image file '.*bomb\.png': its header "
                                         r"declares 23000x23000 = 529000000 pixels, more than "
                                         r"max_pixels=100000000"):
        load_source(str(tmp_path), "train", on_error="raise")  # the default bound
    with pytest.raises(ValueError, match=r"`max_pixels` must be an int >= 1"):
        load_source(str(tmp_path), "train", max_pixels=0)


def test_an_empty_class_folder_is_refused(tmp_path):
    for split in ("train", "test"):
        _save(tmp_path / split / "cat" / "0.png", np.zeros((4, 4), np.uint8))
    (tmp_path / "train" / "dog").mkdir()
    (tmp_path / "train" / "dog" / "notes.txt").write_text("not an image name")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(ValueError, match=r"class folder '.*train/dog' has no image files "
                                         r"\(\.jpg.*\); every sub-folder of '.*train' is a "
                                         r"class"):
        load_source(str(tmp_path), "train")
    (tmp_path / "train" / "dog" / "broken.png").write_bytes(b"\x89PNG broken")
    with pytest.warns(UserWarning, match="Skipped 1"), pytest.raises(
            ValueError, match=r"class folder '.*train/dog' has no readable images \(all were "
                              r"skipped as unreadable\)"):
        load_source(str(tmp_path), "train", on_error="skip")
    flat = tmp_path / "flat"  # without train/test sub-folders: the same rule
    _save(flat / "a" / "0.png", np.zeros((4, 4), np.uint8))
    (flat / "b").mkdir()
    with pytest.raises(ValueError, match=r"class folder '.*flat/b' has no image files"):
        load_source(str(flat), "test")
    assert sorted(str(p) for p in tmp_path.rglob("*") if "flat" not in str(p)) == sorted(
        before + [str(tmp_path / "train" / "dog" / "broken.png")])


@pytest.mark.slow
def test_statistics_are_measured_at_the_model_input_size(tmp_path):
    """One large image must not outweigh the others (the trainer's own `_resolve`)."""
    from kcnn.train import TrainConfig
    from kcnn.train.trainer import _resolve
    rng = np.random.default_rng(0)
    for i in range(20):
        _save(tmp_path / "ab"[i % 2] / f"{i}.png", rng.integers(0, 256, (12, 12), np.uint8))
    config = TrainConfig(model="lenet5", dataset=str(tmp_path), output_dir=str(tmp_path / "r"))

    def measured():
        source = load_source(str(tmp_path), "train", channels=1)
        _, prep = _resolve(config, source)
        return prep.mean[0], prep.std[0], source

    without = measured()
    _save(tmp_path / "a" / "huge.png", np.zeros((2000, 2000), np.uint8))  # 4 megapixels
    with_huge = measured()
    unresized = channel_stats(with_huge[2], 1 / 255)
    print(f"mean/std at lenet5's 32x32: without the 2000x2000 black image {without[0]:.4f}/"
          f"{without[1]:.4f}, with it {with_huge[0]:.4f}/{with_huge[1]:.4f}; with it, "
          f"un-resized: {unresized[0][0]:.5f}/{unresized[1][0]:.5f}")
    assert abs(without[0] - 0.5) < 0.05
    # One black image among 17 in the split moves the mean by about 1/17, not to ~0.
    assert abs(with_huge[0] - without[0]) < 0.05 and abs(with_huge[1] - without[1]) < 0.05
    assert unresized[0][0] < 0.01  # pixel-weighted, the one large image is nearly all
