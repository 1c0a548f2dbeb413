"""`kcnn models [PATTERN] [--details]`: natural order, the details table, no match."""

import kcnn
from kcnn import cli


def test_names_in_natural_order(capsys):
    assert cli.main(["models", "resnet1*"]) == 0
    assert capsys.readouterr().out.split() == ["resnet18", "resnet101", "resnet110",
                                               "resnet152"]


def test_details_table(capsys):
    assert cli.main(["models", "--details"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("  ")[0] == "name" and lines[0].split() == [
        "name", "params", "GMACs", "default", "input", "weights"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert list(rows) == kcnn.models.list_models()
    # Counts from shared/REFERENCE.md, GMACs from torchvision's tables (which count MACs).
    # The last column: the sources of the catalogue's weights for the model.
    assert rows["resnet50"] == ["resnet50", "25,557,032", "4.09", "224×224×3", "torchvision"]
    assert rows["vgg16"] == ["vgg16", "138,357,544", "15.47", "224×224×3", "torchvision,keras"]
    assert rows["resnet20"][-1] == "-"
    assert rows["lenet5"][1:4] == ["61,706", "0.00042", "32×32×1"]
    # Numbers are right-aligned: every row ends its params column at the header's end.
    end = lines[0].index("params") + len("params")
    assert all(line[:end].endswith(row[1]) for line, row in zip(lines[1:], rows.values()))


def test_details_with_a_pattern(capsys):
    assert cli.main(["models", "vgg16*", "--details"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["name", "vgg16", "vgg16_bn"]


def test_no_match_says_so_with_close_names(capsys):
    assert cli.main(["models", "resnt5*"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "kcnn models: no model matches 'resnt5*'." in captured.err
    assert "Close names: " in captured.err and "resnet50" in captured.err
    assert cli.main(["models", "zzz"]) == 1
    assert capsys.readouterr().err.strip() == "kcnn models: no model matches 'zzz'."
