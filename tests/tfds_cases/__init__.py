"""A tiny TFDS dataset that a test prepares with no download: real `tfds` code, no mock.

`kcnn_tiny_shapes` draws three classes of noisy RGB images (horizontal bars, vertical bars,
a filled square, at random offsets) with fixed seeds. Config `fixed` (the default) has
32×32 images (held in memory by `load_source`); config `varied` has sizes from 24 to 48
pixels (`Image(shape=(None, None, 3))`, streamed as ImageNet is).
"""

import numpy as np
import tensorflow_datasets as tfds

NAME = "kcnn_tiny_shapes"
CLASS_NAMES = ("hbars", "vbars", "square")
SPLITS = {"train": (96, 0), "test": (15, 1), "validation": (15, 2)}  # (examples, seed)


def draw(label, height, width, rng):
    """One uint8 H×W×3 image of class `label`: dark noise with a bright pattern."""
    image = rng.integers(0, 60, (height, width, 3))
    if label == 0:
        image[rng.integers(0, 4)::4] += 160
    elif label == 1:
        image[:, rng.integers(0, 4)::4] += 160
    else:
        side = min(height, width) // 2
        top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
        image[top:top + side, left:left + side] += 160
    return image.clip(0, 255).astype(np.uint8)


class KcnnTinyShapes(tfds.core.GeneratorBasedBuilder):
    """Three classes of small synthetic images (see the module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(name="fixed", description="32×32 images"),
        tfds.core.BuilderConfig(name="varied", description="24 to 48 pixels a side"),
    ]

    def _info(self):
        fixed = self.builder_config.name == "fixed"
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(32, 32, 3) if fixed else (None, None, 3)),
                "label": tfds.features.ClassLabel(names=CLASS_NAMES),
            }),
            supervised_keys=("image", "label"))

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download
        return {split: self._generate_examples(n, seed) for split, (n, seed) in SPLITS.items()}

    def _generate_examples(self, n, seed):
        rng = np.random.default_rng(seed)
        for i in range(n):
            label = i % len(CLASS_NAMES)
            if self.builder_config.name == "fixed":
                height = width = 32
            else:
                height, width = rng.integers(24, 49, 2)
            yield i, {"image": draw(label, height, width, rng), "label": label}


class KcnnTinyDownload(tfds.core.GeneratorBasedBuilder):
    """The `train` split of `fixed`, downloaded as one .npz file from `url_infos`' URL.

    A test serves the file on 127.0.0.1 and sets `url_infos` (normally read from the
    builder's checksums.tsv) to {url: UrlInfo(size, sha256, filename)}.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    url_infos = None

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(32, 32, 3)),
                "label": tfds.features.ClassLabel(names=CLASS_NAMES),
            }),
            supervised_keys=("image", "label"))

    def _split_generators(self, dl_manager):
        (url,) = self.url_infos
        return {"train": self._generate_examples(dl_manager.download(url))}

    def _generate_examples(self, path):
        with np.load(path) as data:
            for i, (image, label) in enumerate(zip(data["images"], data["labels"])):
                yield i, {"image": image, "label": int(label)}


def fixed_train_split():
    """The images and labels of `kcnn_tiny_shapes`'s train split, drawn again."""
    n, seed = SPLITS["train"]
    rng = np.random.default_rng(seed)
    return (np.stack([draw(i % len(CLASS_NAMES), 32, 32, rng) for i in range(n)]),
            np.arange(n) % len(CLASS_NAMES))
