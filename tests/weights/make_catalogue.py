"""Writes kcnn/weights/data/catalogue.json and imagenet_classes.json from their sources.

Run by hand, with torchvision installed (not needed by the suite):
    /work/torchenv/bin/python tests/weights/make_catalogue.py

torchvision's records come from its `Weights` enums (`.url`, `.meta`, `.transforms()`);
keras.applications' from keras/src/applications/vgg16.py and vgg19.py (URLs and
`file_hash`, checked against the installed keras by tests/weights/test_catalogue.py) and
the accuracy table of keras-team/keras-applications' README (top-k errors, single center
crop at 224×224, TensorFlow backend, ILSVRC 2012 validation set).
"""

import json
import math
import pathlib
import re

import torchvision
from torchvision import models
from torchvision.models._meta import _IMAGENET_CATEGORIES

DATA = pathlib.Path(__file__).resolve().parents[2] / "kcnn" / "weights" / "data"

TORCHVISION_LICENCE = (
    "torchvision's code is BSD-3-Clause; its docs say pre-trained models \"may have their "
    "own licenses or terms and conditions derived from the dataset used for training\" "
    "(ImageNet's terms: non-commercial research and education)")
KERAS_LICENCE = (
    "the VGG team's models (Simonyan & Zisserman, released under the Creative Commons "
    "Attribution licence, see http://www.robots.ox.ac.uk/~vgg/research/very_deep/), "
    "converted by keras-applications (MIT)")

ENUMS = {
    "resnet18": models.ResNet18_Weights, "resnet34": models.ResNet34_Weights,
    "resnet50": models.ResNet50_Weights, "resnet101": models.ResNet101_Weights,
    "resnet152": models.ResNet152_Weights,
    **{f"vgg{d}{bn}": getattr(models, f"VGG{d}{bn.upper()}_Weights")
       for d in (11, 13, 16, 19) for bn in ("", "_bn")},
    "alexnet": models.AlexNet_Weights, "googlenet": models.GoogLeNet_Weights,
}
# kcnn builder arguments that make torchvision's form where kcnn's default differs.
BUILDER_KWARGS = {"googlenet": {"form": "torchvision", "transform_input": True}}


def _number(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def torchvision_records():
    for model, enum in ENUMS.items():
        for weights in enum:
            meta, transforms = weights.meta, weights.transforms()
            file_name = weights.url.rsplit("/", 1)[1]
            metrics = meta["_metrics"]["ImageNet-1K"]
            classifies = meta["categories"] is not None
            yield {
                "model": model, "source": "torchvision", "tag": weights.name,
                "default": weights is enum.DEFAULT, "include_top": True,
                "classifies": classifies,
                "url": weights.url, "file_name": file_name,
                "hash_algorithm": "sha256_prefix",
                "file_hash": re.search(r"-([a-f0-9]+)\.", file_name).group(1),
                "file_size_mib": meta["_file_size"],
                "num_params": meta["num_params"],
                "gflops": meta["_ops"],
                "acc1": _number(metrics["acc@1"]), "acc5": _number(metrics["acc@5"]),
                "accuracy_source": (f"torchvision {torchvision.__version__.split('+')[0]} "
                                    f"{enum.__name__}.{weights.name}.meta['_metrics']"),
                "preprocessing": {
                    "resize": transforms.resize_size[0],
                    "crop": transforms.crop_size[0],
                    "interpolation": transforms.interpolation.value,
                    "antialias": bool(transforms.antialias),
                    "scale": 1 / 255, "channel_order": "RGB",
                    "mean": list(transforms.mean), "std": list(transforms.std),
                },
                "builder_kwargs": BUILDER_KWARGS.get(model, {}),
                "licence": TORCHVISION_LICENCE,
                "recipe": meta["recipe"],
                "notes": " ".join(meta["_docs"].split()),
            }


def keras_records():
    # keras/src/applications/vgg16.py, vgg19.py: WEIGHTS_PATH(_NO_TOP) and get_file's
    # file_hash (md5, as keras's get_file tells by its 32 characters).
    hashes = {("vgg16", True): "64373286793e3c8b2b4e3219cbf3544b",
              ("vgg16", False): "6d6bbae143d832006294945121d1f1fc",
              ("vgg19", True): "cbe5617147190e668d6c5d5026f83318",
              ("vgg19", False): "253f8cb515780f3b799900260a226db6"}
    # keras-applications README: top-1 / top-5 error, single center crop.
    errors = {"vgg16": (28.732, 9.950), "vgg19": (28.744, 10.012)}
    # Parameters with and without the top (the README rounds them: 138.4M/14.7M,
    # 143.7M/20.0M); the same networks as torchvision's vgg16/vgg19.
    params = {("vgg16", True): 138_357_544, ("vgg16", False): 14_714_688,
              ("vgg19", True): 143_667_240, ("vgg19", False): 20_024_384}
    for (model, top), file_hash in hashes.items():
        file_name = f"{model}_weights_tf_dim_ordering_tf_kernels{'' if top else '_notop'}.h5"
        top1, top5 = errors[model]
        yield {
            "model": model, "source": "keras", "tag": "imagenet" if top else "imagenet_notop",
            "default": True, "include_top": top, "classifies": top,
            "url": ("https://storage.googleapis.com/tensorflow/keras-applications/"
                    f"{model}/{file_name}"),
            "file_name": file_name, "hash_algorithm": "md5", "file_hash": file_hash,
            "file_size_mib": None, "num_params": params[model, top], "gflops": None,
            # the _notop file classifies nothing: no accuracy of its own
            "acc1": round(100 - top1, 3) if top else None,
            "acc5": round(100 - top5, 3) if top else None,
            "accuracy_source": ("keras-team/keras-applications README (top-1/top-5 error "
                                f"{top1}/{top5}; single center crop, 224x224)" if top else
                                "none: the convolutional layers of the file with the top"),
            "preprocessing": {
                # keras.applications.vgg16.preprocess_input (mode "caffe"): RGB to BGR,
                # the ImageNet mean pixel subtracted, no scaling. The README gives a
                # 224×224 center crop, not the resize before it: 256 is kcnn's choice.
                "resize": 256, "crop": 224, "interpolation": "bilinear", "antialias": True,
                "scale": 1.0, "channel_order": "BGR",
                "mean": [103.939, 116.779, 123.68], "std": [1.0, 1.0, 1.0],
            },
            "builder_kwargs": {},
            "licence": KERAS_LICENCE,
            "recipe": None,
            "notes": ("The VGG team's Caffe weights, converted by keras.applications (kernels "
                      "HWIO, dense kernels (in, out)). The evaluation resize is not "
                      "published; 256 is kcnn's choice." if top else
                      "The convolutional layers of the file above (no dense layers)."),
        }


def main():
    records = [*torchvision_records(), *keras_records()]
    catalogue = {
        "about": ("One record per published weight file; written by "
                  "tests/weights/make_catalogue.py from torchvision's Weights enums and "
                  "keras.applications' sources."),
        "records": records,
    }
    (DATA / "catalogue.json").write_text(json.dumps(catalogue, indent=1) + "\n")
    (DATA / "imagenet_classes.json").write_text(json.dumps(list(_IMAGENET_CATEGORIES),
                                                           indent=0) + "\n")
    print(f"{len(records)} records, {len(_IMAGENET_CATEGORIES)} classes")


if __name__ == "__main__":
    main()
