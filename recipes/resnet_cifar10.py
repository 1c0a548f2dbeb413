"""CIFAR-10 ResNets (He et al., 2016, §4.2): paper 8.75 / 7.51 / 7.17 / 6.97 / 6.43 % error
for depth 20 / 32 / 44 / 56 / 110.

Batch 128, SGD momentum 0.9, lr 0.1, weight decay 1e-4, lr ÷10 at 32k and 48k iterations,
stop at 64k; 4-pixel pad + random 32×32 crop + flip; ResNet-110 warms up at lr 0.01 for 400
iterations. Iterations become epochs of the 50k training images below. The paper
subtracts the per-pixel mean; kcnn normalizes per channel.
    python recipes/resnet_cifar10.py --depth 56 [--smoke]
"""

import sys

from kcnn.train import TrainConfig
from kcnn.train.recipe import recipe_parser, recipe_run

DEPTHS = (20, 32, 44, 56, 110)
BATCH, TRAIN_IMAGES = 128, 50_000


def iterations_to_epochs(iterations):
    return iterations * BATCH / TRAIN_IMAGES


def config(depth, plain=False):
    """He et al.'s CIFAR-10 settings for ResNet-`depth` (or its plain twin)."""
    warmup = ({"warmup_epochs": iterations_to_epochs(400), "warmup": "constant",
               "warmup_lr": 0.01} if depth == 110 else {})
    name = f"{'plain' if plain else 'resnet'}{depth}"
    return TrainConfig(
        model=name, dataset="cifar10", train_split="train", eval_split="test",
        epochs=round(iterations_to_epochs(64_000)), global_batch_size=BATCH, optimizer="sgd",
        lr=0.1, momentum=0.9, weight_decay=1e-4, lr_schedule="piecewise",
        lr_boundaries=[iterations_to_epochs(32_000), iterations_to_epochs(48_000)],
        lr_decay=0.1, augment="cifar", output_dir=f"runs/{name}_cifar10", **warmup)


def main(argv=None):
    parser = recipe_parser(__doc__)
    parser.add_argument("--depth", type=int, choices=DEPTHS, default=20)
    args = parser.parse_args(argv)
    return recipe_run(config(args.depth), args)


if __name__ == "__main__":
    main(sys.argv[1:])
