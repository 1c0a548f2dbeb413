"""Fine-tune a pretrained ResNet-18 on a folder of images (one sub-folder per class).

torchvision's ImageNet weights (downloaded into Keras's cache, hash checked) fill the body;
the head is new, one output per class folder. Images are preprocessed as the weights were
evaluated (resize 256, center crop 224, ImageNet mean and std: `preprocessing.json`), with
flips when training. SGD with momentum, a small learning rate and cosine decay; the body
trains too, unless `--set freeze_body=true` (only the new head trains, the body's BatchNorm
statistics stay as loaded).

    python recipes/finetune_folder.py --dataset folder:PATH [--weights FILE] [--smoke]

PATH holds train/<class>/*.jpg and test/<class>/*.jpg. The run folder then serves with
`kcnn export runs/finetune_folder BASE_DIR` and `kcnn predict runs/finetune_folder IMAGE`.
"""

import sys

from kcnn.train import TrainConfig
from kcnn.train.recipe import recipe_main

CONFIG = TrainConfig(
    model="resnet18", weights="torchvision", dataset="folder:images", epochs=10,
    global_batch_size=32, optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=1e-4,
    lr_schedule="cosine", augment="flip", output_dir="runs/finetune_folder",
)
SMOKE = {"image_size": [32, 32]}  # resnet18's smallest input


def main(argv=None):
    return recipe_main(CONFIG, argv, smoke=SMOKE, description=__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
