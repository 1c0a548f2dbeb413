"""Small valid inputs for every registered model, and variants worth sweeping too.

Every registered model must have an entry here: the sweep fails for a model it does not
know, so a new builder cannot skip the checks.
"""

# name: (kwargs for a small, fast build, expected output shape without the batch axis)
SMALL = {
    "lenet5": ({}, (10,)),
    "alexnet": ({"input_shape": (63, 63, 3), "num_classes": 10}, (10,)),
    "alexnet_paper": ({"input_shape": (67, 67, 3), "num_classes": 10}, (10,)),
    "nin": ({"input_shape": (16, 16, 3)}, (10,)),
    "nin_imagenet": ({"input_shape": (67, 67, 3), "num_classes": 10}, (10,)),
    "googlenet": ({"input_shape": (32, 32, 3), "num_classes": 10}, (10,)),
    **{f"vgg{d}{bn}": ({"input_shape": (32, 32, 3), "num_classes": 10}, (10,))
       for d in (11, 13, 16, 19) for bn in ("", "_bn")},
    **{f"resnet{d}": ({"input_shape": (32, 32, 3), "num_classes": 10}, (10,))
       for d in (18, 34, 50, 101, 152)},
    **{f"{kind}{d}": ({"input_shape": (16, 16, 3)}, (10,))
       for kind in ("resnet", "plain") for d in (20, 32, 44, 56, 110)},
    "fcn32s": ({"input_shape": (64, 64, 3), "num_classes": 5}, (64, 64, 5)),
}

# (id, model name, kwargs, output shapes): builder options the defaults do not reach.
VARIANTS = [
    ("googlenet_aux", "googlenet",
     {"input_shape": (65, 65, 3), "num_classes": 10, "aux_logits": True}, [(10,)] * 3),
    ("googlenet_torchvision", "googlenet",
     {"input_shape": (32, 32, 3), "num_classes": 10, "batch_norm": True,
      "branch3_kernel_size": 3}, [(10,)]),
    ("resnet50_v1", "resnet50",
     {"input_shape": (32, 32, 3), "num_classes": 10, "stride_in_1x1": True}, [(10,)]),
    ("resnet20_projection", "resnet20",
     {"input_shape": (16, 16, 3), "shortcut": "projection"}, [(10,)]),
    ("lenet5_max_relu", "lenet5", {"subsampling": "max", "activation": "relu"}, [(10,)]),
    ("vgg11_features", "vgg11",
     {"input_shape": (32, 32, 3), "include_top": False, "pooling": "avg"}, [(512,)]),
    ("resnet18_featuremap", "resnet18",
     {"input_shape": (64, 64, 3), "include_top": False}, [(2, 2, 512)]),
    ("nin_features", "nin", {"include_top": False, "pooling": "max"}, [(192,)]),
]


def sweep_cases(registered):
    """(id, name, kwargs, output shapes) for every registered model, then the variants."""
    cases = []
    for name in registered:
        kwargs, shape = SMALL.get(name, (None, None))
        cases.append((name, name, kwargs, [shape]))
    return cases + VARIANTS
