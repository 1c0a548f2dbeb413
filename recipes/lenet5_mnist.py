"""LeNet-5 on MNIST (LeCun et al., 1998): paper 0.95 % test error without distortions.

MNIST's 28×28 digits are resized to LeNet-5's 32×32 input (the paper padded them).
    python recipes/lenet5_mnist.py [--epochs 20] [--output runs/lenet5_mnist] [--smoke]
"""

import sys

from kcnn.train import TrainConfig
from kcnn.train.recipe import recipe_main

CONFIG = TrainConfig(
    model="lenet5", dataset="mnist", train_split="train", eval_split="test",
    epochs=20, global_batch_size=128, optimizer="sgd", lr=0.05, momentum=0.9,
    lr_schedule="cosine", augment="none", output_dir="runs/lenet5_mnist",
)


def main(argv=None):
    return recipe_main(CONFIG, argv, description=__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
