"""Plain vs residual nets on CIFAR-10: He et al. (2016) Fig. 6.

Trains plain-d and ResNet-d for each depth with the same settings (`resnet_cifar10.py`) and
draws their training (solid) and test (dashed) top-1 error side by side: the deeper plain
net has the higher training error, the deeper ResNet the lower.
    python recipes/plain_vs_resnet_cifar10.py --depths 20 32 44 56 [--smoke]
Writes <output>/<model>/ for each run and <output>/plain_vs_resnet.png.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resnet_cifar10 import config  # noqa: E402 (the sibling recipe's settings)

from kcnn.train.recipe import recipe_parser, recipe_run  # noqa: E402


def plot(path, results):
    """Fig. 6: plain nets left, ResNets right; training error solid, test error dashed."""
    import io

    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from kcnn.io import atomic_write_bytes

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, family in zip(axes, ("plain", "resnet")):
        for name, history in results.items():
            if not name.startswith(family):
                continue
            epochs = [r["epoch"] for r in history]
            line, = ax.plot(epochs, [100 * (1 - r["accuracy"]) for r in history],
                            label=f"{name} train")
            test = [r.get("val_accuracy") for r in history]
            if any(v is not None for v in test):
                ax.plot([e for e, v in zip(epochs, test) if v is not None],
                        [100 * (1 - v) for v in test if v is not None], "--",
                        color=line.get_color(), label=f"{name} test")
        ax.set(title="plain" if family == "plain" else "ResNet", xlabel="epoch",
               ylabel="top-1 error (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def main(argv=None):
    parser = recipe_parser(__doc__)
    parser.add_argument("--depths", type=int, nargs="+", default=[20, 32, 44, 56])
    args = parser.parse_args(argv)
    output = args.output_dir or ("runs/plain_vs_resnet_cifar10"
                                 + ("-smoke" if args.smoke else ""))
    results = {}
    for depth in args.depths:
        for plain in (True, False):
            cfg = config(depth, plain=plain)
            args.output_dir = os.path.join(output, cfg.model)
            results[cfg.model] = recipe_run(cfg, args).history
    path = os.path.join(output, "plain_vs_resnet.png")
    plot(path, results)
    print(f"Fig. 6 curves: {path}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
