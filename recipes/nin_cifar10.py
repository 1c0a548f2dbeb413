"""Network in Network on CIFAR-10 (Lin et al., 2014): paper 10.41 % error (8.81 % augmented).

Three mlpconv blocks with dropout 0.5 between them and global average pooling (the
`nin` builder). The paper gives no optimizer table; kcnn uses SGD momentum 0.9, lr 0.01,
weight decay 1e-4, ÷10 at epochs 80 and 100, 120 epochs, batch 128, with the translation +
flip augmentation of the 8.81 % result (`--set augment=none` for the 10.41 % setting) and
per-channel normalization.
    python recipes/nin_cifar10.py [--epochs 120] [--smoke]
"""

import sys

from kcnn.train import TrainConfig
from kcnn.train.recipe import recipe_main

CONFIG = TrainConfig(
    model="nin", dataset="cifar10", train_split="train", eval_split="test", epochs=120,
    global_batch_size=128, optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=1e-4,
    lr_schedule="piecewise", lr_boundaries=[80, 100], lr_decay=0.1, augment="cifar",
    output_dir="runs/nin_cifar10",
)


def main(argv=None):
    return recipe_main(CONFIG, argv, description=__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
