"""What a run leaves behind: history CSV, training-curve PNG, model file, metrics."""

import csv
import io
import json
import os
import shutil
import tempfile

from kcnn.io import atomic_write_bytes, atomic_write_text

HISTORY_CSV = "history.csv"
CURVES_PNG = "curves.png"
MODEL_FILE = "model.keras"
METRICS_JSON = "metrics.json"
# Files a run writes into its output folder, each atomically (`kcnn.io`).
WRITTEN = (HISTORY_CSV, CURVES_PNG, MODEL_FILE, METRICS_JSON, "config.json", "preprocessing.json")
COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "val_top5", "lr", "seconds")


def write_history_csv(path, history):
    """Writes the per-epoch records as CSV, atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in history:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in COLUMNS})
    atomic_write_text(path, buffer.getvalue())


def plot_curves(path, curves, title="", error=True):
    """Plots loss and top-1 error (or accuracy) per epoch for one or more runs.

    Args:
        path: str. The PNG to write (atomically).
        curves: dict of label → history (list of per-epoch dicts).
        title: str. Figure title.
        error: bool. Plot top-1 error in % (as He et al. Fig. 6) instead of accuracy.
    """
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for label, history in curves.items():
        epochs = [r["epoch"] for r in history]
        for key, style, suffix in (("loss", "-", "train"), ("val_loss", "--", "test")):
            values = [r.get(key) for r in history]
            if any(v is not None for v in values):
                ax_loss.plot(epochs, values, style, label=f"{label} {suffix}")
        for key, style, suffix in (("accuracy", "-", "train"), ("val_accuracy", "--", "test")):
            values = [r.get(key) for r in history]
            if any(v is not None for v in values):
                values = [None if v is None else (100 * (1 - v) if error else 100 * v)
                          for v in values]
                ax_acc.plot(epochs, values, style, label=f"{label} {suffix}")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="top-1 error (%)" if error else "top-1 accuracy (%)",
               title="top-1 error" if error else "top-1 accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def save_model(model, path, is_chief=True):
    """`model.save(path)` through a temporary file and a rename, so no half-written model.

    Other workers save to a temporary folder that is deleted (every worker takes part).
    """
    directory = os.path.dirname(os.path.abspath(path)) if is_chief else tempfile.mkdtemp()
    tmp = os.path.join(directory, ".tmp-" + os.path.basename(path))
    try:
        model.save(tmp)
        if is_chief:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
        if not is_chief:
            shutil.rmtree(directory, ignore_errors=True)


def write_json(path, data):
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
