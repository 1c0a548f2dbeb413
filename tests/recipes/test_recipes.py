"""Every recipe runs end to end with --smoke on a TFDS dataset prepared in the test (the real
tfds code path); with its own dataset unprepared, --smoke runs on TFDS mock data offline."""

import importlib.util
import json
import os

import pytest
import tfds_cases

pytestmark = pytest.mark.slow  # starts first in the two test workers (tests/conftest.py)

RECIPES = os.path.join(os.path.dirname(__file__), "..", "..", "recipes")
FIXED, VARIED = tfds_cases.NAME, f"{tfds_cases.NAME}/varied"

# recipe file → (extra argv, expected model, expected input size, local dataset): ImageNet
# recipes read the variable-size (streamed) config, as ImageNet is.
CASES = {
    "lenet5_mnist.py": ([], "lenet5", [32, 32], FIXED),
    "alexnet_imagenet.py": ([], "alexnet_paper", [96, 96], VARIED),
    "vgg16_imagenet.py": ([], "vgg16", [32, 32], VARIED),
    "nin_cifar10.py": ([], "nin", [32, 32], FIXED),
    "googlenet_imagenet.py": ([], "googlenet", [96, 96], VARIED),
    "resnet_cifar10.py": (["--depth", "20"], "resnet20", [32, 32], FIXED),
}


def _load(filename):
    spec = importlib.util.spec_from_file_location(filename[:-3], os.path.join(RECIPES, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_recipe_is_covered():
    files = sorted(f for f in os.listdir(RECIPES) if f.endswith(".py") and not f.startswith("_"))
    # finetune_folder.py: tests/weights/test_cli_pretrained.py (a converted resnet18).
    assert files == sorted([*CASES, "plain_vs_resnet_cifar10.py", "finetune_folder.py"])


@pytest.mark.parametrize("filename", sorted(CASES))
def test_recipe_smoke_on_a_prepared_tfds_dataset(filename, tmp_path, tiny_tfds, capsys):
    argv, model, size, dataset = CASES[filename]
    result = _load(filename).main([*argv, "--dataset", dataset, "--data-dir", tiny_tfds,
                                   "--smoke", "--output", str(tmp_path)])
    assert f"--smoke: on {dataset} as prepared in {tiny_tfds}." in capsys.readouterr().out
    assert result.config.model == model and result.config.dataset == dataset
    assert result.config.epochs == 1 and result.config.max_steps_per_epoch == 2
    assert len(result.history) == 1 and result.history[0]["loss"] > 0
    assert 0.0 <= result.metrics["top1"] <= 1.0
    # The contract files the export side reads; the class names come from the dataset.
    prep = json.loads((tmp_path / "preprocessing.json").read_text())
    assert prep["image_size"] == size and len(prep["mean"]) == prep["channels"]
    assert prep["class_names"] == list(tfds_cases.CLASS_NAMES)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model"] == model and saved["image_size"] == size
    assert (tmp_path / "model.keras").is_file() and (tmp_path / "curves.png").is_file()
    assert len(result.model.outputs) == 1  # auxiliary heads dropped (GoogLeNet)


def test_every_recipe_help_says_what_smoke_reads(capsys):
    for filename in [*CASES, "plain_vs_resnet_cifar10.py"]:
        with pytest.raises(SystemExit) as exit_info:
            _load(filename).main(["--help"])
        assert exit_info.value.code == 0
        text = " ".join(capsys.readouterr().out.split())
        assert "if it is prepared in the data dir" in text, filename
        assert "else on TFDS mock data" in text and "no network" in text, filename


def test_googlenet_recipe_trains_aux_heads_with_paper_weight():
    config = _load("googlenet_imagenet.py").CONFIG
    assert config.model_kwargs["aux_logits"] is True and config.aux_loss_weight == 0.3
    assert (config.lr_schedule, config.lr_decay, config.lr_decay_epochs) == ("step", 0.96, 8)


def test_resnet_recipe_uses_paper_iterations():
    module = _load("resnet_cifar10.py")
    c56, c110 = module.config(56), module.config(110)
    # 32k / 48k / 64k iterations of batch 128 over 50k images.
    assert c56.lr_boundaries == pytest.approx([81.92, 122.88])
    assert c56.epochs == 164 and c56.lr == 0.1 and c56.weight_decay == 1e-4
    assert c56.warmup_epochs == 0 and c110.warmup_lr == 0.01 and c110.warmup == "constant"
    assert c110.warmup_epochs == pytest.approx(400 * 128 / 50_000)


def test_plain_vs_resnet_smoke_offline_on_mock_data(tmp_path, capsys, monkeypatch):
    """Its own dataset (cifar10) not prepared, no network: --smoke uses TFDS mock data."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:1")  # a download would fail
    empty = tmp_path / "tfds"
    empty.mkdir()
    results = _load("plain_vs_resnet_cifar10.py").main(
        ["--depths", "20", "--smoke", "--data-dir", str(empty), "--output", str(tmp_path)])
    out = capsys.readouterr().out
    assert out.count(f"--smoke: cifar10 is not prepared in {empty}; on TFDS mock data") == 2
    assert os.listdir(empty) == []
    assert sorted(results) == ["plain20", "resnet20"]
    assert (tmp_path / "plain_vs_resnet.png").stat().st_size > 1000
    for name in results:
        assert (tmp_path / name / "model.keras").is_file()
