"""`kcnn weights`: the catalogue as a table, cached files marked."""

from kcnn import cli


def test_lists_the_catalogue_and_marks_cached_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "resnet50-11ad3fa6.pth").write_bytes(b"")
    assert cli.main(["weights", "resnet5*"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["model", "source", "tag", "default", "acc@1", "acc@5", "MiB",
                                "resize/crop", "cached"]
    assert lines[1].split() == ["resnet50", "torchvision", "IMAGENET1K_V1", "76.13", "92.86",
                                "97.8", "256/224", "RGB", "-"]
    assert lines[2].split() == ["resnet50", "torchvision", "IMAGENET1K_V2", "yes", "80.86",
                                "95.43", "97.8", "232/224", "RGB", "yes"]
    assert f"cached: in {tmp_path / 'models'}" in lines[-1]


def test_keras_source_and_no_match(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert cli.main(["weights", "--source", "keras"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:5]]
    assert [row[:3] for row in rows] == [["vgg16", "keras", "imagenet"],
                                         ["vgg16", "keras", "imagenet_notop"],
                                         ["vgg19", "keras", "imagenet"],
                                         ["vgg19", "keras", "imagenet_notop"]]
    assert rows[1][4:6] == ["-", "-"]  # the _notop file has no accuracy of its own
    assert cli.main(["weights", "lenet*"]) == 1
    assert "no published weights match 'lenet*'" in capsys.readouterr().err
