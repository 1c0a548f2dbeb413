"""AlexNet on ImageNet (Krizhevsky et al., 2012): paper 40.7 / 18.2 % top-1 / top-5 error.

The paper's two-tower model (`alexnet_paper`, 227×227): batch 128, SGD momentum 0.9, weight
decay 5e-4, lr 0.01 divided by 10 three times "when the validation error stopped improving"
(here at fixed epochs 30, 60, 80 — a plateau rule cannot be replayed exactly on resume),
90 epochs; random crops of 256-pixel images + flips + PCA colour noise σ = 0.1; dropout 0.5.
Evaluation resizes to 227×227 (single view; the paper averaged 10 crops).
    python recipes/alexnet_imagenet.py --data-dir ~/tensorflow_datasets [--smoke]
"""

import sys

from kcnn.train import TrainConfig
from kcnn.train.recipe import recipe_main

IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

CONFIG = TrainConfig(
    model="alexnet_paper", dataset="imagenet2012", train_split="train",
    eval_split="validation", epochs=90, global_batch_size=128, optimizer="sgd", lr=0.01,
    momentum=0.9, weight_decay=5e-4, lr_schedule="piecewise", lr_boundaries=[30, 60, 80],
    lr_decay=0.1, augment="alexnet", mean=IMAGENET_MEAN, std=IMAGENET_STD,
    output_dir="runs/alexnet_imagenet",
)
SMOKE = {"image_size": [96, 96]}  # the smallest input alexnet_paper accepts


def main(argv=None):
    return recipe_main(CONFIG, argv, smoke=SMOKE, description=__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
