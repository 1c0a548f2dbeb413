"""Small valid inputs for every registered model, derived from its record, and variants.

The sweep size of a model is its record's `min_input_size`, but at least `SWEEP_FLOOR`
pixels: the nets of total stride 4 then keep 4×4 maps, so that BatchNorm's batch
statistics and the gradient check see more than one position. Every model is built with
`SWEEP_CLASSES` classes (not its default, so the argument is seen to reach the head); the
expected output shape follows from the record's `task`. Nothing here is kept by hand per
model: a newly registered model is swept as soon as its record exists.
"""

import kcnn

SWEEP_FLOOR = 16
SWEEP_CLASSES = 7


def small_size(name):
    return max(kcnn.models.model_info(name).min_input_size, SWEEP_FLOOR)


def input_shape(name, size=None):
    """(size, size, channels) with the model's default channels; `size` defaults to the sweep's."""
    size = small_size(name) if size is None else size
    return (size, size, kcnn.models.model_info(name).default_input_shape[2])


def output_shape(name, size, num_classes):
    """The output shape without the batch axis, from the record's task."""
    task = kcnn.models.model_info(name).task
    if task == "classification":
        return (num_classes,)
    if task == "segmentation":
        return (size, size, num_classes)
    raise ValueError(f"{name}: unknown task {task!r} in its record")


def small_case(name):
    """(kwargs for a small, fast build, expected output shape without the batch axis)."""
    size = small_size(name)
    kwargs = {"input_shape": input_shape(name, size), "num_classes": SWEEP_CLASSES}
    return kwargs, output_shape(name, size, SWEEP_CLASSES)


# name: (kwargs, output shape) for every registered model, derived as above.
SMALL = {name: small_case(name) for name in kcnn.models.list_models()}

_AUX_SIZE = kcnn.models.model_info("googlenet").min_input_size_aux

# (id, model name, kwargs, output shapes): builder options the defaults do not reach.
VARIANTS = [
    ("googlenet_aux", "googlenet",
     {"input_shape": input_shape("googlenet", _AUX_SIZE), "num_classes": 10,
      "aux_logits": True}, [(10,)] * 3),
    ("googlenet_torchvision", "googlenet",
     {**SMALL["googlenet"][0], "form": "torchvision"},
     [SMALL["googlenet"][1]]),
    ("resnet50_v1", "resnet50", {**SMALL["resnet50"][0], "stride_in_1x1": True},
     [SMALL["resnet50"][1]]),
    ("resnet20_projection", "resnet20", {**SMALL["resnet20"][0], "shortcut": "projection"},
     [SMALL["resnet20"][1]]),
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
        kwargs, shape = small_case(name)
        cases.append((name, name, kwargs, [shape]))
    return cases + VARIANTS
