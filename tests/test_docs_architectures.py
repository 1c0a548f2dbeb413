"""docs/architectures.md: the kcnn column agrees with the builders, and every model has a row."""

import pathlib
import re

import kcnn
from conftest import count_trainable

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "architectures.md"
ROW = re.compile(r"^\| `(\w+)` \| ([\d,]+) \|", re.M)


def test_every_model_has_a_row_with_its_count():
    rows = {name: int(count.replace(",", "")) for name, count in ROW.findall(DOC.read_text())}
    assert set(kcnn.models.list_models()) <= set(rows), \
        set(kcnn.models.list_models()) - set(rows)
    wrong = {n: (rows[n], c) for n in kcnn.models.list_models()
             if (c := count_trainable(kcnn.models.get_model(n))) != rows[n]}
    assert not wrong, wrong
