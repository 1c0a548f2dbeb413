"""The CIFAR input pipeline alone vs resnet20 fed by it (TensorFlow backend, own process).

The pipeline is kcnn.data's training pipeline (seeded order, pad-crop-flip, normalize,
batch, prefetch) over an in-memory split of synthetic 32×32×3 uint8 images, as
`load_source("cifar10", ...)` gives once the dataset is on disk.

    python -m benchmarks.pipeline_worker --mode full --out result.json
"""

import argparse

import keras
import numpy as np

from benchmarks import settings
from benchmarks._timing import log, throughput, write_result
from benchmarks.keras_worker import tf_train_step
from kcnn.data import Preprocessing, train_batches
from kcnn.data.sources import Source
from kcnn.models import get_model


def cifar_like(examples):
    rng = np.random.default_rng(0)
    return Source(name="synthetic-cifar10", split="train", num_examples=examples,
                  num_classes=10, channels=3,
                  images=rng.integers(0, 256, (examples, 32, 32, 3), dtype=np.uint8),
                  labels=rng.integers(0, 10, examples).astype(np.int64))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=("full", "smoke"), required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    p = settings.PIPELINE[args.mode]
    source = cifar_like(p["examples"])
    prep = Preprocessing(image_size=(32, 32), channels=3, mean=(0.49, 0.48, 0.45),
                         std=(0.25, 0.24, 0.26))

    def batches():
        epoch = 0
        while True:
            yield from train_batches(source, prep, global_batch_size=p["batch"], seed=0,
                                     epoch=epoch, augment="cifar")
            epoch += 1

    it = batches()
    alone = throughput(lambda: next(it), lambda batch: batch[0].numpy(), batch=p["batch"],
                       warmup=5, steps=p["steps"])
    log(f"pipeline alone: {alone['images_per_s']} images/s")

    keras.utils.set_random_seed(0)
    model = get_model("resnet20")
    optimizer = keras.optimizers.SGD(settings.LR, momentum=settings.MOMENTUM)
    optimizer.build(model.trainable_variables)
    step = tf_train_step(model, optimizer, p["batch"], xla=False)
    fed = throughput(lambda: step(*next(it))[0], float, batch=p["batch"], warmup=3,
                     steps=max(2, p["steps"] // 6))
    log(f"resnet20 fed by the pipeline: {fed['images_per_s']} images/s")
    write_result(args.out, {"pipeline_alone": alone, "resnet20_fed_by_pipeline": fed,
                            "examples": p["examples"], "augment": "cifar"})


if __name__ == "__main__":
    main()
