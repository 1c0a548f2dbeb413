"""VGG-16 on ImageNet (Simonyan & Zisserman, 2015): paper 7.2 % top-5 error (multi-crop).

Batch 256, SGD momentum 0.9, weight decay 5e-4, lr 0.01 divided by 10 three times when the
validation accuracy stalled (here at fixed epochs 30, 50, 65), 74 epochs; dropout 0.5;
scale jittering S in [256, 512] with random 224 crops and flips. Evaluation is one
224×224 view (the paper's 7.2 % is multi-crop + dense).
    python recipes/vgg16_imagenet.py --data-dir ~/tensorflow_datasets [--smoke]
"""

import sys

from kcnn.train import TrainConfig
from kcnn.train.recipe import recipe_main

IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

CONFIG = TrainConfig(
    model="vgg16", dataset="imagenet2012", train_split="train", eval_split="validation",
    epochs=74, global_batch_size=256, optimizer="sgd", lr=0.01, momentum=0.9,
    weight_decay=5e-4, lr_schedule="piecewise", lr_boundaries=[30, 50, 65], lr_decay=0.1,
    augment="vgg", mean=IMAGENET_MEAN, std=IMAGENET_STD, output_dir="runs/vgg16_imagenet",
)
SMOKE = {"image_size": [32, 32]}


def main(argv=None):
    return recipe_main(CONFIG, argv, smoke=SMOKE, description=__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
