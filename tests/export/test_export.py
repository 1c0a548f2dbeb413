"""export_saved_model: layout, versions, signatures, bad input, warm-up, saved_model_cli."""

import io
import json
import os
import subprocess

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from export.export_helpers import LENET_PREPROCESSING, numeric_dirs
from tensorflow_serving.apis import prediction_log_pb2

import kcnn
from kcnn.export import export_saved_model, saved_model as saved_model_module
from kcnn.export.verify import parse_saved_model_cli, saved_model_cli_command


def _png(image):
    return tf.io.encode_png(image).numpy()


def _keras_probabilities(model, pixels, prep):
    """The Keras model's probabilities for float pixels in [0, 255], computed here."""
    x = tf.image.resize(np.asarray(pixels, np.float32), prep["image_size"], method="bilinear")
    x = (x.numpy() * prep["scale"] - np.float32(prep["mean"])) / np.float32(prep["std"])
    logits = np.asarray(model(x, training=False), np.float64)
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_layout_tf_serving_reads(lenet_export):
    _, result, base = lenet_export
    assert result.version == 1 and result.path == os.path.join(base, "1")
    assert sorted(os.listdir(base)) == ["1"]  # no temporary directory left behind
    entries = set(os.listdir(result.path))
    assert {"saved_model.pb", "variables", "assets.extra"} <= entries
    assert "variables.index" in os.listdir(os.path.join(result.path, "variables"))
    assert set(os.listdir(os.path.join(result.path, "assets.extra"))) == {
        "tf_serving_warmup_requests", "preprocessing.json"}
    with open(os.path.join(result.path, "assets.extra", "preprocessing.json")) as f:
        assert json.load(f) == LENET_PREPROCESSING


def test_versions_count_up_and_are_never_overwritten(tmp_path):
    model = kcnn.models.lenet5()
    base = tmp_path / "m"
    assert export_saved_model(model, base, warmup=False).version == 1
    assert export_saved_model(model, base, warmup=False).version == 2
    pb = base / "2" / "saved_model.pb"
    before = (pb.stat().st_mtime_ns, sorted(os.listdir(base)))
    with pytest.raises(FileExistsError, match="Version 2 already exists .* not empty"):
        export_saved_model(model, base, version=2, warmup=False)
    assert (pb.stat().st_mtime_ns, sorted(os.listdir(base))) == before
    assert export_saved_model(model, base, version=7, warmup=False).version == 7
    assert export_saved_model(model, base, warmup=False).version == 8
    (base / "9").mkdir()  # an empty version folder may be filled
    assert export_saved_model(model, base, version=9, warmup=False).version == 9
    assert numeric_dirs(base) == ["1", "2", "7", "8", "9"]
    assert all((base / n / "saved_model.pb").is_file() for n in numeric_dirs(base))


def test_bad_arguments_fail_before_anything_is_written(tmp_path, monkeypatch):
    model = kcnn.models.lenet5()
    afile = tmp_path / "a_file"
    afile.write_text("x")
    with pytest.raises(NotADirectoryError, match="a_file' is a file, not a folder"):
        export_saved_model(model, afile / "base")
    with pytest.raises(ValueError, match="`version` must be an int >= 0"):
        export_saved_model(model, tmp_path / "v", version="1")
    with pytest.raises(ValueError, match="`channels`=3 but model 'lenet5' takes 1-channel"):
        export_saved_model(model, tmp_path / "p", preprocessing=dict(
            LENET_PREPROCESSING, channels=3, mean=[0] * 3, std=[1] * 3))
    with pytest.raises(ValueError, match="`model_outputs` must be one of"):
        export_saved_model(model, tmp_path / "o", model_outputs="probs")
    with pytest.raises(ValueError, match="`model` must be a built functional keras.Model"):
        export_saved_model("lenet5", tmp_path / "o")
    # Running as root makes every folder writable, so fake an unwritable one.
    monkeypatch.setattr(saved_model_module.os, "access", lambda path, mode: False)
    with pytest.raises(PermissionError, match="is not writable"):
        export_saved_model(model, tmp_path / "ro" / "base")
    assert sorted(os.listdir(tmp_path)) == ["a_file"]


def test_failure_midway_leaves_nothing(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyboardInterrupt  # as a Ctrl-C during the warm-up file
    monkeypatch.setattr(saved_model_module, "write_warmup", broken)
    with pytest.raises(KeyboardInterrupt):
        export_saved_model(kcnn.models.lenet5(), tmp_path / "m")
    assert os.listdir(tmp_path / "m") == []


def test_not_an_image_is_an_invalid_argument(lenet_loaded):
    serve = lenet_loaded.signatures["serving_default"]
    good = _png(np.zeros((32, 32, 1), np.uint8))
    for batch in ([b"definitely not an image"], [good, b"GIF"], [b""]):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match="Failed to decode image_bytes: an element is not a JPEG, "
                                 "PNG, GIF or BMP image"):
            serve(image_bytes=tf.constant(batch))
    truncated = good[: len(good) // 2]  # a PNG header with broken data
    with pytest.raises(tf.errors.InvalidArgumentError, match="(?i)png|decode"):
        serve(image_bytes=tf.constant([truncated]))


def test_images_of_other_sizes_are_resized(lenet_export, lenet_loaded):
    model, _, _ = lenet_export
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (45, 20, 1), dtype=np.uint8)
    want = _keras_probabilities(model, image[None], LENET_PREPROCESSING)
    got = lenet_loaded.signatures["serving_default"](image_bytes=tf.constant([_png(image)]))
    np.testing.assert_allclose(got["probabilities"].numpy(), want, atol=1e-5, rtol=0)
    got = lenet_loaded.signatures["predict_images"](images=tf.constant(
        image[None].astype(np.float32)))
    np.testing.assert_allclose(got["probabilities"].numpy(), want, atol=1e-5, rtol=0)
    rgb = np.repeat(image, 3, axis=-1)  # colour images are converted to 1 channel
    got = lenet_loaded.signatures["serving_default"](image_bytes=tf.constant([_png(rgb)]))
    np.testing.assert_allclose(got["probabilities"].numpy(), want, atol=1e-5, rtol=0)
    names = got["top_k_class_names"].numpy()[0]
    assert [n.decode() for n in names] == [
        f"digit_{i}" for i in np.argsort(-want[0], kind="stable")[:5]]


@pytest.mark.parametrize("fmt", ["GIF", "BMP"])
def test_gif_and_bmp_decode_for_a_grayscale_model(fmt, lenet_loaded):
    """TensorFlow's GIF and BMP decoders give no 1-channel output: converted in the graph."""
    gray = np.random.default_rng(4).integers(0, 256, (32, 32), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(gray).save(buffer, format=fmt)  # lossless, unlike JPEG
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L"))
    serve = lenet_loaded.signatures["serving_default"]
    got = serve(image_bytes=tf.constant([buffer.getvalue()]))["probabilities"].numpy()
    want = serve(image_bytes=tf.constant([_png(decoded[..., None])]))["probabilities"].numpy()
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)


def test_warmup_records_parse_and_run(lenet_export, lenet_loaded):
    _, result, _ = lenet_export
    path = os.path.join(result.path, "assets.extra", "tf_serving_warmup_requests")
    records = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
               for r in tf.data.TFRecordDataset(path)]
    assert len(records) == 3
    signatures = []
    for log in records:
        request = log.predict_log.request
        assert request.model_spec.name == "lenet"
        signatures.append(request.model_spec.signature_name)
        inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        out = lenet_loaded.signatures[request.model_spec.signature_name](**inputs)
        batch = len(next(iter(inputs.values())))
        assert out["probabilities"].shape == (batch, 10)
        np.testing.assert_allclose(out["probabilities"].numpy().sum(-1), 1, atol=1e-5)
    assert signatures == ["serving_default", "serving_default", "predict_images"]


def test_saved_model_cli_lists_the_documented_signatures(lenet_export):
    _, result, _ = lenet_export
    proc = subprocess.run(saved_model_cli_command() + ["show", "--dir", result.path, "--all"],
                          capture_output=True, text=True, check=True, timeout=300)
    listed = parse_saved_model_cli(proc.stdout)
    outputs = {"probabilities": ("DT_FLOAT", "(-1, 10)"),
               "top_k_scores": ("DT_FLOAT", "(-1, 5)"),
               "top_k_indices": ("DT_INT32", "(-1, 5)"),
               "top_k_class_names": ("DT_STRING", "(-1, 5)")}
    assert listed["serving_default"] == {
        "inputs": {"image_bytes": ("DT_STRING", "(-1)")}, "outputs": outputs}
    assert listed["predict_images"] == {
        "inputs": {"images": ("DT_FLOAT", "(-1, -1, -1, 1)")}, "outputs": outputs}
    assert "signature_def['serving_default']:" in proc.stdout
    print("saved_model_cli serving_default:", listed["serving_default"])


def test_a_softmax_model_is_not_softmaxed_twice(tmp_path):
    model = kcnn.models.lenet5(classifier_activation="softmax")
    result = export_saved_model(model, tmp_path / "m", warmup=False)
    assert not result.applies_softmax
    pixels = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 1)).astype(np.float32)
    want = np.asarray(model(pixels / 255, training=False))
    got = tf.saved_model.load(result.path).signatures["predict_images"](
        images=tf.constant(pixels))["probabilities"].numpy()
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)


def test_export_needs_the_tensorflow_backend(tmp_path, monkeypatch):
    model = kcnn.models.lenet5()
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(ValueError, match="needs the TensorFlow backend"):
        export_saved_model(model, tmp_path / "m")
    assert os.listdir(tmp_path) == []


def test_decompression_bombs_are_refused_before_decoding(lenet_loaded):
    """Headers claiming 23000×23000 pixels (issue 11: a 514 KB PNG allocated 2.5 GB); the
    measured peak memory is in benchmarks/results/serving-bomb-*.json."""
    from data.test_decode import header_only
    serve = lenet_loaded.signatures["serving_default"]
    good = _png(np.zeros((32, 32, 1), np.uint8))
    for fmt in ("PNG", "JPEG", "GIF", "BMP"):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"Failed to decode image_bytes: its header declares "
                                 r"23000x23000 = 529000000 pixels, more than "
                                 r"max_pixels=100000000 \(refused before decoding\)"):
            serve(image_bytes=tf.constant([good, header_only(fmt, 23000, 23000)]))


def test_bad_tensors_are_invalid_arguments_naming_what_was_expected(lenet_loaded):
    predict = lenet_loaded.signatures["predict_images"]
    pixels = np.full((2, 32, 32, 1), 100, np.float32)
    for bad in (np.nan, np.inf, -np.inf):
        pixels[1, 5, 7, 0] = bad
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"predict_images: `images` must be finite pixel values in "
                                 r"\[0, 255\]; got NaN or inf"):
            predict(images=tf.constant(pixels))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"predict_images: `images` must have 1 channel\(s\), shape "
                             r"\[batch, height, width, 1\]; got shape\] \[1 32 32 3\]"):
        predict(images=tf.zeros([1, 32, 32, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Shape of tensor images \[32,32,1\] is not compatible with "
                             r"expected shape \[\?,\?,\?,1\]"):
        predict(images=tf.zeros([32, 32, 1]))
    serve = lenet_loaded.signatures["serving_default"]
    good = _png(np.zeros((32, 32, 1), np.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"serving_default: `image_bytes` must be a 1-D string tensor "
                             r"\[batch\] of encoded images; got shape\] \[2 2\]"):
        serve(image_bytes=tf.constant([[good, good], [good, good]]))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Shape of tensor image_bytes \[1,1\] is not compatible with "
                             r"expected shape \[\?\]"):
        serve(image_bytes=tf.constant([[good]]))
    out = serve(image_bytes=tf.constant([good]))  # and good input still works
    assert out["probabilities"].shape == (1, 10)


def test_a_folder_of_bmp_and_gif_trains_on_what_serving_sees(lenet_export, lenet_loaded,
                                                             tmp_path):
    """One decoder: the trainer's folder pipeline and serving_default give the same input."""
    from kcnn.data import Preprocessing, eval_batches, load_source
    model, _, _ = lenet_export
    rng = np.random.default_rng(5)
    files = []
    for fmt in ("BMP", "GIF"):
        (tmp_path / fmt).mkdir()
        for i in range(2):
            path = tmp_path / fmt / f"{i}.{fmt.lower()}"
            Image.fromarray(rng.integers(0, 256, (40, 28, 3), np.uint8)).save(path)
            files.append(path)
    source = load_source(str(tmp_path), "train", channels=1, on_error="raise", holdout=0.01)
    assert source.num_examples == 4 and source.skipped == ()
    prep = Preprocessing(**LENET_PREPROCESSING)
    x, _ = next(iter(eval_batches(source, prep, batch_size=4)))
    want = tf.nn.softmax(model(x, training=False)).numpy()
    got = lenet_loaded.signatures["serving_default"](image_bytes=tf.constant(
        [open(p, "rb").read() for p in source.paths]))["probabilities"].numpy()
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


@pytest.mark.slow
def test_cli_max_pixels_version_bounds_and_a_stray_file(tmp_path, capsys):
    from kcnn.cli import main
    model_file = tmp_path / "lenet5.keras"
    kcnn.models.lenet5().save(model_file)
    base = tmp_path / "base"
    (base / "1").mkdir(parents=True)  # an (empty) version 1 ...
    (base / "2").write_text("a stray file named like a version\n")  # ... and a file "2"

    def listing():
        return sorted((str(p.relative_to(base)), p.is_file() and p.read_bytes())
                      for p in base.glob("*"))
    before = listing()
    for argv, words in (
            (["--version", str(10**20)], "argument --version: must be in [0, 2**63 - 1] "
                                         "(TF Serving's versions are int64); got 1000000"),
            (["--version", "2"], "Version 2 is taken by"),
            (["--max-pixels", "0"], "`max_pixels` must be an int >= 1")):
        try:
            code = main(["export", str(model_file), str(base), *argv])
        except SystemExit as e:  # argparse's own errors
            code = e.code
        assert code == 2
        assert words in capsys.readouterr().err
        assert listing() == before
    with pytest.raises(ValueError, match=r"`version` must be an int >= 0 and <= 2\*\*63 - 1"):
        export_saved_model(kcnn.models.lenet5(), base, version=2**63)
    with pytest.warns(UserWarning, match=r"Skipping version 2: '.*base/2' is not a folder"):
        assert main(["export", str(model_file), str(base), "--max-pixels", "1024",
                     "--no-warmup"]) == 0
    assert "Exported version 3" in capsys.readouterr().out
    assert listing()[:2] == before and numeric_dirs(base) == ["1", "2", "3"]  # "2" intact
    serve = tf.saved_model.load(str(base / "3")).signatures["serving_default"]
    assert serve(image_bytes=tf.constant([_png(np.zeros((32, 32, 1), np.uint8))])
                 )["probabilities"].shape == (1, 10)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"declares 32x33 = 1056 pixels, more than max_pixels=1024"):
        serve(image_bytes=tf.constant([_png(np.zeros((33, 32, 1), np.uint8))]))
