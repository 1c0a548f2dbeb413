"""docs/concepts.md: every python code block runs, in order, in one namespace."""

import pathlib
import re

import pytest

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "concepts.md"


def code_blocks(text):
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


@pytest.mark.slow
def test_concepts_doc_code_runs(capsys):
    blocks = code_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 8, "the python blocks of docs/concepts.md were not found"
    namespace = {"__name__": "concepts_doc"}
    for i, block in enumerate(blocks, start=1):
        try:
            exec(compile(block, f"{DOC.name} block {i}", "exec"), namespace)  # noqa: S102
        except Exception as e:  # noqa: BLE001
            pytest.fail(f"docs/concepts.md python block {i} failed: {e!r}\n{block}")
    out = capsys.readouterr().out
    assert "Impossible convolution arithmetic" in out
    assert "naive 303,464,448 MACs -> 416 channels" in out
    assert "block5_pool   field  212  jump  32  start 15.5" in out
    assert "stage4 stage4_block2 channels 512  stride 32  field 435" in out
