"""docs/architectures.md: one row per registered model, agreeing with its record.

The records (`kcnn.models.model_info`) are pinned to the reference counts and checked
against the builders by tests/models/test_param_counts.py; this test checks the doc
against the records, so it builds nothing.
"""

import pathlib
import re

import kcnn
from kcnn.models._cli import format_gmacs

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "architectures.md"
HEADER = ("| model | params | reference params | GMACs | default input | smallest input | "
          "paper | deliberate deviations |")
ROW = re.compile(r"^\| `(\w+)` \|(.*)\|$")


def table_rows():
    """{model name: cells after the name} of the first table."""
    text = DOC.read_text()
    assert HEADER in text, f"docs/architectures.md must have the table header {HEADER!r}"
    table = text[text.index(HEADER):].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[2:]:
        match = ROW.match(line)
        assert match, f"not a model row: {line!r}"
        assert match[1] not in rows, f"two rows for {match[1]}"
        rows[match[1]] = [cell.strip() for cell in match[2].split(" | ")]
    return rows


def _deviations(info):
    return "; ".join(info.deviations) if info.deviations else "none"


def expected_cells(info):
    """The cells the row of `info` must have, but the hand-written reference column."""
    smallest = str(info.min_input_size)
    if info.min_input_size_aux is not None:
        smallest += f" ({info.min_input_size_aux} with `aux_logits=True`)"
    return [f"{info.num_params:,}", None, format_gmacs(info.macs),
            "×".join(map(str, info.default_input_shape)), smallest, info.paper,
            _deviations(info)]


def test_every_model_has_one_row_and_no_other():
    rows = table_rows()
    names = kcnn.models.list_models()
    assert sorted(rows) == sorted(names), (
        f"missing rows: {set(names) - set(rows)}; rows of no model: {set(rows) - set(names)}")


def test_rows_agree_with_the_records():
    rows, wrong = table_rows(), {}
    for name, cells in rows.items():
        info = kcnn.models.model_info(name)
        expected = expected_cells(info)
        got = list(cells)
        # The deviations may say "as `other`" for a row above with the same deviations.
        same = re.fullmatch(r"as `(\w+)`", got[6])
        if same and list(rows).index(same[1]) < list(rows).index(name):
            other = kcnn.models.model_info(same[1])
            got[6] = _deviations(other) if other.deviations == info.deviations else got[6]
        got[1] = expected[1] = None  # the reference column is checked below
        if got != expected:
            wrong[name] = "| `{}` | {} |".format(
                name, " | ".join(c if c is not None else cells[1] for c in expected))
    assert not wrong, "rows to write in docs/architectures.md:\n" + "\n".join(wrong.values())


def test_reference_column_agrees_with_the_counts():
    # "61,706 (...)": the kcnn count is the reference; "= resnet20": equal to that model's.
    for name, cells in table_rows().items():
        reference, count = cells[1], kcnn.models.model_info(name).num_params
        if same := re.fullmatch(r"= (\w+)", reference):
            assert kcnn.models.model_info(same[1]).num_params == count, name
        else:
            number = re.match(r"[\d,]+", reference)
            assert number and int(number[0].replace(",", "")) == count, (name, reference)
