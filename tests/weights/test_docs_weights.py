"""docs/weights.md's catalogue table against kcnn.weights' catalogue: every record, its
accuracy, preprocessing, file and hash."""

import pathlib

from kcnn.weights import list_weights

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "weights.md"
HEADER = ("model", "source", "tag", "default", "acc@1", "acc@5", "evaluation preprocessing",
          "file", "hash checked")


def _numbers(values):
    return "/".join(f"{v:g}" for v in values)


def preprocessing_text(p):
    """One record's preprocessing as the table writes it."""
    text = f"resize {p['resize']}, crop {p['crop']}, {p['channel_order']}"
    if p["scale"] != 1:
        text += " ×1/255" if abs(p["scale"] - 1 / 255) < 1e-12 else f" ×{p['scale']:g}"
    text += f", − {_numbers(p['mean'])}"
    if any(s != 1 for s in p["std"]):
        std = ("1/255" if all(abs(s - 1 / 255) < 1e-9 for s in p["std"])
               else _numbers(p["std"]))
        text += f", ÷ {std}"
    return text


def row(record):
    def acc(value):
        return "–" if value is None else f"{value:.2f}"

    hashed = (f"SHA-256 {record.file_hash}…" if record.hash_algorithm == "sha256_prefix"
              else f"MD5 {record.file_hash}")
    return (f"`{record.model}`", record.source, record.tag, "yes" if record.default else "",
            acc(record.acc1), acc(record.acc5), preprocessing_text(record.preprocessing),
            f"[`{record.file_name}`]({record.url})", hashed)


def table_rows(text):
    """The rows of the document's first table (the header first, no separator row)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| "))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        if not line.startswith("|---"):
            rows.append(tuple(cell.strip() for cell in line.strip("|").split(" | ")))
    return rows


def test_table_lists_every_record_as_the_catalogue_has_it():
    rows = table_rows(DOC.read_text())
    assert rows[0] == HEADER
    assert rows[1:] == [row(r) for r in list_weights()]


if __name__ == "__main__":  # prints the table, to paste into docs/weights.md
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "|".join("---:" if h.startswith("acc") else "---" for h in HEADER) + "|")
    for record in list_weights():
        print("| " + " | ".join(row(record)) + " |")
