"""`kcnn export` on a trained quickstart run, and its errors."""

import contextlib
import io
import json
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from export.export_helpers import numeric_dirs
from kcnn.cli import main
from kcnn.data import Preprocessing, eval_transform, load_source
from kcnn.train import TrainConfig, fit

pytestmark = pytest.mark.slow  # starts first in the two test workers (tests/conftest.py)


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory):
    """The quickstart (LeNet-5 on the offline digits), shortened to 40 steps."""
    out = tmp_path_factory.mktemp("runs") / "quickstart"
    fit(TrainConfig(epochs=1, max_steps_per_epoch=40, max_eval_steps=4, validate=False, verbose=0,
                    deterministic=False, output_dir=str(out)))
    assert {"model.keras", "preprocessing.json"} <= set(os.listdir(out))
    return str(out)


@pytest.fixture(scope="module")
def exported(quickstart_run, tmp_path_factory):
    """`kcnn export RUN BASE --verify`, then `kcnn export RUN BASE`: (run, base, outputs)."""
    base = str(tmp_path_factory.mktemp("serving") / "digits")
    outputs = []
    for extra in (["--verify"], []):
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = main(["export", quickstart_run, base, *extra])
        outputs.append((code, out.getvalue()))
    return quickstart_run, base, outputs


def test_export_a_trained_run_writes_version_1_then_2(exported):
    run, base, ((code1, out1), (code2, out2)) = exported
    assert code1 == 0 and code2 == 0
    assert f"Exported version 1 to {os.path.join(base, '1')}" in out1
    assert "Verified in a fresh Python process without kcnn" in out1
    assert f"Exported version 2 to {os.path.join(base, '2')}" in out2
    assert numeric_dirs(base) == ["1", "2"]
    with open(os.path.join(run, "preprocessing.json")) as f:
        run_prep = json.load(f)
    for version in ("1", "2"):
        assert os.path.isfile(os.path.join(base, version, "saved_model.pb"))
        with open(os.path.join(base, version, "assets.extra", "preprocessing.json")) as f:
            assert json.load(f) == run_prep
    print(out1.strip())


def test_served_digits_match_the_trained_model(exported):
    """8×8 digit PNGs through serving_default equal the trainer's own eval path."""
    run, base, _ = exported
    model = keras.saving.load_model(os.path.join(run, "model.keras"), safe_mode=True)
    prep = Preprocessing.load(run)
    source = load_source("digits", "test")
    images, labels = source.images[:64], source.labels[:64]
    x = tf.stack([eval_transform(tf.constant(i), prep) for i in images])
    want = tf.nn.softmax(model(x, training=False)).numpy()
    serve = tf.saved_model.load(os.path.join(base, "1")).signatures["serving_default"]
    got = serve(image_bytes=tf.constant([tf.io.encode_png(i).numpy() for i in images]))
    np.testing.assert_allclose(got["probabilities"].numpy(), want, atol=1e-5, rtol=0)
    top1 = got["top_k_indices"].numpy()[:, 0]
    names = [n.decode() for n in got["top_k_class_names"].numpy()[:, 0]]
    assert names == [str(i) for i in top1]
    accuracy = float(np.mean(top1 == labels))
    print(f"served top-1 accuracy on 64 digits test images: {accuracy:.3f}")
    assert accuracy > 0.5  # a trained model, not a random one (chance is 0.1)


def test_errors_name_the_problem_and_write_nothing(quickstart_run, tmp_path, capsys):
    base = tmp_path / "base"

    def fails(argv, words):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert words in err, err
        assert not base.exists() or numeric_dirs(base) == ["1"]

    fails(["export", str(tmp_path / "missing.keras"), str(base)],
          "missing.keras' does not exist")
    bare = tmp_path / "bare_run"
    bare.mkdir()
    shutil.copy(os.path.join(quickstart_run, "model.keras"), bare)
    fails(["export", str(bare), str(base)], "has no preprocessing.json")
    fails(["export", str(tmp_path / "bare_run" / "nothing"), str(base)], "does not exist")
    (tmp_path / "notes.txt").write_text("x")
    fails(["export", str(tmp_path / "notes.txt"), str(base)], "must be a .keras file")
    fails(["export", quickstart_run, str(tmp_path / "notes.txt" / "base")],
          "is a file, not a folder")
    (tmp_path / "bad.keras").write_bytes(b"not a zip")
    fails(["export", str(tmp_path / "bad.keras"), str(base)], "Cannot load model file")
    assert not base.exists()
    assert main(["export", quickstart_run, str(base), "--version", "1", "--no-warmup"]) == 0
    fails(["export", quickstart_run, str(base), "--version", "1"], "Version 1 already exists")
