"""GoogLeNet on ImageNet (Szegedy et al., 2015): paper 10.07 % top-5 error (1 net, 1 crop).

The paper's model (5×5 branch, no BN) with both auxiliary heads, their losses weighted 0.3
and dropped after training; SGD momentum 0.9, learning rate −4 % every 8 epochs; crops of
8–100 % of the area with aspect 3/4–4/3, flips and photometric distortions. The paper gives
no base learning rate, batch or length; kcnn uses lr 0.01, batch 256, weight decay 2e-4
and 120 epochs (BVLC's Caffe solver for GoogLeNet uses 0.01 and 2e-4).
    python recipes/googlenet_imagenet.py --data-dir ~/tensorflow_datasets [--smoke]
"""

import sys

from kcnn.train import TrainConfig
from kcnn.train.recipe import recipe_main

IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

CONFIG = TrainConfig(
    model="googlenet", model_kwargs={"aux_logits": True, "batch_norm": False,
                                     "branch3_kernel_size": 5},
    dataset="imagenet2012", train_split="train", eval_split="validation", epochs=120,
    global_batch_size=256, optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=2e-4,
    lr_schedule="step", lr_decay=0.96, lr_decay_epochs=8, aux_loss_weight=0.3,
    augment="inception", mean=IMAGENET_MEAN, std=IMAGENET_STD,
    output_dir="runs/googlenet_imagenet",
)
SMOKE = {"image_size": [96, 96]}  # the smallest input googlenet accepts


def main(argv=None):
    return recipe_main(CONFIG, argv, smoke=SMOKE, description=__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
