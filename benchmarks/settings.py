"""What the benchmark measures, and at which sizes: declared once, here.

On the 2-core CPU machines the 224×224 models are slow, so their batches are small and
their timed steps few; every figure in a results file comes with the settings it used.
"""

import dataclasses

# Optimizer and loss shared by every framework: SGD, momentum 0.9, softmax cross-entropy
# on logits, a constant learning rate (its value does not change the cost of a step).
LR = 0.01
MOMENTUM = 0.9


@dataclasses.dataclass(frozen=True)
class Case:
    """One model in the benchmark.

    Args:
        name: str. The row name (the kcnn registry name).
        input_shape: (H, W, C).
        num_classes: int.
        train_batch: int. Batch of the training steps (the same for every framework).
        infer_batch: int. The "large" inference batch.
        timed_steps: int. Timed training steps after `warmup_steps`.
        kcnn_kwargs: dict. Builder arguments (GoogLeNet as torchvision builds it, so that
            both sides run the same network).
        keras_app: str or None. The keras.applications peer.
        torch_name: str or None. The torchvision peer.
    """

    name: str
    input_shape: tuple
    num_classes: int
    train_batch: int
    infer_batch: int
    timed_steps: int
    warmup_steps: int = 2
    kcnn_kwargs: dict = dataclasses.field(default_factory=dict)
    keras_app: str = None
    torch_name: str = None


CASES = (
    Case("lenet5", (32, 32, 1), 10, 128, 1024, 20, 3),
    Case("resnet20", (32, 32, 3), 10, 128, 512, 8, 3),
    Case("nin", (32, 32, 3), 10, 128, 512, 4),
    Case("alexnet", (224, 224, 3), 1000, 16, 64, 4, torch_name="alexnet"),
    Case("googlenet", (224, 224, 3), 1000, 16, 32, 3,
         kcnn_kwargs={"form": "torchvision"},
         torch_name="googlenet"),
    Case("resnet50", (224, 224, 3), 1000, 8, 32, 3, keras_app="ResNet50",
         torch_name="resnet50"),
    Case("vgg16", (224, 224, 3), 1000, 4, 16, 3, keras_app="VGG16", torch_name="vgg16"),
)

# Smoke mode (the test suite): tiny inputs and one or two steps, to check the harness only.
SMOKE_CASES = (
    Case("lenet5", (32, 32, 1), 10, 8, 16, 2, 1),
    Case("resnet20", (32, 32, 3), 10, 8, 16, 2, 1),
    Case("googlenet", (64, 64, 3), 10, 2, 4, 1, 1,
         kcnn_kwargs={"form": "torchvision"}, torch_name="googlenet"),
    Case("resnet50", (64, 64, 3), 10, 2, 4, 1, 1, keras_app="ResNet50", torch_name="resnet50"),
)

ROUNDS = {"full": 2, "smoke": 1}             # timed rounds of training steps (best reported)
LATENCY_REPEATS = {"full": 30, "smoke": 3}   # batch-1 calls timed (median reported)
MATMUL_SIZES = {"full": 4096, "smoke": 256}  # n of the n×n×n peak matmul
# The CIFAR input pipeline: synthetic uint8 images through kcnn.data's training pipeline.
PIPELINE = {"full": dict(examples=20_000, batch=128, steps=60),
            "smoke": dict(examples=256, batch=8, steps=4)}
# Options measured one at a time on these models (the others get the defaults only).
OPTION_MODELS = {"full": ("lenet5", "resnet20", "nin", "alexnet", "googlenet", "resnet50",
                          "vgg16"),
                 "smoke": ("resnet20",)}

# A larger training batch, measured once as an option: how utilization depends on the batch.
LARGE_BATCH_OPTION = {"full": {"resnet50": 32}, "smoke": {}}
# Builder variants measured as options: keras.applications' ResNet50 is v1 (stride on the
# first 1×1, 3.86 GMACs); kcnn's default is v1.5 as torchvision (stride on the 3×3, 4.09).
VARIANT_OPTION = {"full": {"resnet50": {"stride_in_1x1": True}}, "smoke": {}}


def cases(mode, names=None):
    """The cases of `mode` ("full" or "smoke"), optionally only those in `names`."""
    chosen = SMOKE_CASES if mode == "smoke" else CASES
    if names:
        unknown = set(names) - {c.name for c in chosen}
        if unknown:
            raise ValueError(f"unknown benchmark model(s) {sorted(unknown)}; known: "
                             f"{[c.name for c in chosen]}.")
        chosen = tuple(c for c in chosen if c.name in names)
    return chosen


def case(mode, name):
    return cases(mode, [name])[0]
