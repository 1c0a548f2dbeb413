"""Training-time augmentation as the papers used it; stateless, so a seed fixes the result.

Every function takes a `seed` (a shape-[2] integer tensor) and returns a float32 image with
pixel values on the uint8 scale [0, 255] (before the contract's `scale` and normalization).
"""

import tensorflow as tf

AUGMENTATIONS = ("none", "flip", "shift", "cifar", "inception", "alexnet", "vgg")

# Eigen-decomposition of the RGB covariance of ImageNet pixels in [0, 1] (as used by
# fb.resnet.torch and torchvision reproductions of Krizhevsky et al., 2012, §4.1).
_PCA_EIGVAL = (0.2175, 0.0188, 0.0045)
_PCA_EIGVEC = ((-0.5675, 0.7192, 0.4009),
               (-0.5808, -0.0045, -0.8140),
               (-0.5836, -0.6948, 0.4203))


def _split(seed, num):
    return tf.unstack(tf.random.experimental.stateless_split(seed, num=num))


def random_flip(image, seed):
    """Horizontal flip with probability 1/2."""
    return tf.image.stateless_random_flip_left_right(image, seed)


def pad_crop_flip(image, seed, pad=4, flip=True):
    """He et al. (2016) §4.2: pad `pad` zero pixels per side, random crop back, random flip."""
    s1, s2 = _split(seed, 2)
    shape = tf.shape(image)
    padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    image = tf.image.stateless_random_crop(padded, shape, s1)
    return random_flip(image, s2) if flip else image


def random_resized_crop(image, size, seed, area=(0.08, 1.0), aspect=(3 / 4, 4 / 3)):
    """Szegedy et al. (2015): a crop of `area` of the image with aspect in `aspect`, resized."""
    s1, s2 = _split(seed, 2)
    begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image), bounding_boxes=tf.zeros([1, 0, 4]), seed=s1,
        min_object_covered=0.0, aspect_ratio_range=aspect, area_range=area,
        max_attempts=10, use_image_if_no_bounding_boxes=True)
    image = tf.slice(image, begin, crop_size)
    image = tf.image.resize(image, size, method="bilinear")
    return random_flip(image, s2)


def photometric(image, seed, brightness=32.0, contrast=(0.5, 1.5), saturation=(0.5, 1.5)):
    """Random brightness, contrast and (RGB only) saturation, in the [0, 255] scale."""
    s1, s2, s3 = _split(seed, 3)
    image = tf.image.stateless_random_brightness(image, brightness, s1)
    image = tf.image.stateless_random_contrast(image, contrast[0], contrast[1], s2)
    if image.shape[-1] == 3:
        image = tf.image.stateless_random_saturation(image, saturation[0], saturation[1], s3)
    return tf.clip_by_value(image, 0.0, 255.0)


def pca_color_noise(image, seed, stddev=0.1):
    """Krizhevsky et al. (2012) §4.1: adds `eigvec @ (alpha * eigval)`, alpha ~ N(0, stddev)."""
    alpha = tf.random.stateless_normal([3], seed, stddev=stddev)
    delta = tf.linalg.matvec(tf.constant(_PCA_EIGVEC), alpha * tf.constant(_PCA_EIGVAL))
    return image + 255.0 * delta


def scale_jitter_crop(image, size, seed, short_side):
    """Resize the shorter side to S ~ U[short_side], then a random `size` crop, random flip.

    VGG's scale jittering (S in [256, 512] for 224 crops); AlexNet's 224 crops of 256
    images are the case short_side[0] == short_side[1].
    """
    s1, s2, s3 = _split(seed, 3)
    lo, hi = short_side
    target = tf.random.stateless_uniform([], s1, minval=lo, maxval=hi + 1, dtype=tf.int32)
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    ratio = tf.cast(target, tf.float32) / tf.reduce_min(shape)
    new = tf.maximum(tf.cast(tf.round(shape * ratio), tf.int32), tf.constant(size))
    image = tf.image.resize(image, new, method="bilinear")
    image = tf.image.stateless_random_crop(image, [size[0], size[1], tf.shape(image)[2]], s2)
    return random_flip(image, s3)


def augment(image, size, seed, mode, evaluation_resize=None):
    """Applies augmentation `mode` to a uint8 image; returns float32 (size, C) in [0, 255]-scale.

    Args:
        image: uint8 tensor (H', W', C).
        size: tuple of 2 ints. Output height and width.
        seed: shape-[2] integer tensor.
        mode: one of `AUGMENTATIONS`:
            "none": the evaluation resize only; "flip": + horizontal flips;
            "shift": + random shifts of up to 1/8 of the size (pad and crop, no flip: digits);
            "cifar": + 4-pixel pad and random crop + flips (He et al.);
            "inception": random resized crops (8–100 % area, aspect 3/4–4/3), flips,
            photometric distortions (Szegedy et al.);
            "alexnet": shorter side to 256/224 of the crop size, random crops, flips,
            PCA colour noise σ = 0.1 (Krizhevsky et al.);
            "vgg": scale jittering S in [256, 512]/224 of the crop size, random crops, flips.
        evaluation_resize: callable or None. The evaluation resize of the modes that
            start with it ("none", "flip", "shift", "cifar"): image → float32 (size, C),
            e.g. the contract's resize and center crop (`kcnn.data.preprocessing.resize`).
            Defaults to None (a bilinear resize to `size`).
    """
    if mode not in AUGMENTATIONS:
        raise ValueError(f"`augment` must be one of {', '.join(map(repr, AUGMENTATIONS))}; "
                         f"got augment={mode!r}.")
    s1, s2 = _split(seed, 2)
    if mode == "inception":
        image = random_resized_crop(tf.cast(image, tf.float32), size, s1)
        return photometric(image, s2)
    if mode in ("alexnet", "vgg"):
        lo, hi = (256, 256) if mode == "alexnet" else (256, 512)
        short = (round(lo * size[0] / 224), round(hi * size[0] / 224))
        image = scale_jitter_crop(tf.cast(image, tf.float32), size, s1, short)
        if mode == "alexnet" and image.shape[-1] == 3:
            image = pca_color_noise(image, s2)
        return image
    if evaluation_resize is None:
        image = tf.image.resize(image, size, method="bilinear")  # the evaluation path
    else:
        image = evaluation_resize(image)
    if mode == "flip":
        return random_flip(image, s1)
    if mode == "cifar":
        return pad_crop_flip(image, s1)
    if mode == "shift":
        return pad_crop_flip(image, s1, pad=max(1, size[0] // 8), flip=False)
    return image
