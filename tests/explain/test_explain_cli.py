"""`kcnn explain` on a small saved run: the PNGs, the receptive field it draws, bad input."""

import numpy as np
import pytest
from PIL import Image

import kcnn
from kcnn import cli
from kcnn.preprocessing import Preprocessing

HEIGHT, WIDTH = 40, 56  # the original image: not the model's 32×32, not square


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run folder (untrained LeNet-5, 3 classes) and a grey noise image saved as RGB."""
    root = tmp_path_factory.mktemp("explain")
    folder = root / "run"
    folder.mkdir()
    model = kcnn.models.lenet5(num_classes=3)
    model.save(folder / "model.keras")
    Preprocessing(image_size=(32, 32), channels=1, class_names=("cat", "dog", "owl")).save(
        folder)
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (HEIGHT, WIDTH, 1)).astype(np.uint8)
    Image.fromarray(np.repeat(grey, 3, axis=-1)).save(root / "photo.png")
    return root


def _explain(run, capsys, *extra, target=None):
    code = cli.main(["explain", str(target or run / "run"), str(run / "photo.png"),
                     "--out", str(run / "out"), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_writes_the_pngs_at_the_image_size_and_draws_the_analysis_field(run, capsys):
    code, out, err = _explain(run, capsys, "--unit", "1,2", "--class", "dog")
    assert code == 0, err
    for name in ("gradcam.png", "receptive_field.png", "feature_maps.png", "filters.png"):
        assert f"wrote {run / 'out' / name}" in out
    for name in ("gradcam.png", "receptive_field.png"):
        assert Image.open(run / "out" / name).size == (WIDTH, HEIGHT)
    assert "Grad-CAM: class 1 'dog', layer 's4' (5×5×16)" in out
    assert "predicted: class " in out
    # LeNet-5's s4 by hand: c1 5×5 → s2 2×2/2 → c3 5×5 → s4 2×2/2 is a 16-pixel field,
    # jump 4, unit 0 centred on pixel 7.5: unit (1, 2) sees rows 4..19, columns 8..23.
    summary = {row["name"]: row for row in kcnn.analysis.summarize(
        kcnn.load_model(run / "run" / "model.keras"))}["s4"]
    assert (summary["receptive_field"], summary["jump"], summary["start"]) == (
        (16, 16), (4, 4), (7.5, 7.5))
    assert ("unit (1, 2) of 's4' (kcnn.analysis): 16×16 input pixels, rows 4..19, "
            "columns 8..23 of the 32×32 input (jump 4×4)") in out
    # On the 40×56 image: rows 4·40/32 = 5 .. 20·40/32 = 25, columns 14 .. 42.
    assert "on the image: rows 5.0..25.0, columns 14.0..42.0" in out
    picture = np.asarray(Image.open(run / "out" / "receptive_field.png").convert("RGB"))
    yellow = (picture[..., 0] > 200) & (picture[..., 1] > 200) & (picture[..., 2] < 60)
    rows, columns = np.nonzero(yellow)
    assert (rows.min(), rows.max(), columns.min(), columns.max()) == (5, 24, 14, 41)


def test_a_keras_file_and_zoom(run, capsys):
    code, out, err = _explain(run, capsys, "--zoom", "2", "--layer", "c3",
                              "--features-layer", "c1", target=run / "run" / "model.keras")
    assert code == 0, err
    assert "layer 'c3' (10×10×16)" in out
    assert Image.open(run / "out" / "gradcam.png").size == (2 * WIDTH, 2 * HEIGHT)


@pytest.mark.parametrize("extra, message", [
    (["--layer", "s44"], "layer 's44' is not in model 'lenet5' (close names: s4"),
    (["--layer", "f6"], "layer 'f6' of model 'lenet5' has output shape (None, 84), not a "
                        "4-D (batch, height, width, channels) feature map; its 4-D layers: "
                        "c1, s2, c3, s4"),
    (["--class", "cow"], "--class 'cow' is neither a class index nor a class name"),
    (["--class", "3"], "--class 3 is out of range: the model has 3 classes (0..2)"),
    (["--unit", "5,0"], "unit (5, 0) is outside layer 's4''s 5×5 map"),
    (["--zoom", "0"], "--zoom: must be an int >= 1"),
])
def test_bad_arguments_are_one_line_errors_naming_them(run, capsys, extra, message):
    with pytest.raises(SystemExit) if extra[0] == "--zoom" else _no_exit():
        code, _, err = _explain(run, capsys, *extra)
        assert code == 2
        assert err.count("\n") == 1 and message in err, err
    if extra[0] == "--zoom":
        assert message in capsys.readouterr().err


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("contents, message", [
    (b"not an image at all", "cannot be decoded: not a JPEG, PNG, GIF or BMP image."),
    (None, "does not exist"),
])
def test_an_image_that_cannot_be_read_is_named(run, capsys, tmp_path, contents, message):
    path = tmp_path / "broken.png"
    if contents is not None:
        path.write_bytes(contents)
    code = cli.main(["explain", str(run / "run"), str(path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code in (1, 2) and err.count("\n") == 1
    assert str(path) in err and message in err, err
    assert not (tmp_path / "o").exists()  # nothing written
