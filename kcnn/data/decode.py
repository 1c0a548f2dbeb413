"""The one image decoder of training and serving: header checked, size bounded, then decoded.

`decode_image` is what the folder-dataset loader (`kcnn.data.load_source`), its training and
evaluation pipelines and the exported `serving_default` signature (`kcnn.export.signatures`)
all use, so an image that trains also serves, and the other way round.

Before anything is decoded, the image's width and height are read from its header with string
ops (PNG: IHDR; GIF: the logical screen and every frame's image descriptor; BMP:
BITMAPINFOHEADER; JPEG: the first SOF segment, found by walking the segments) and an image
of more than `max_pixels` pixels is refused with an `InvalidArgumentError`: a 514 KB PNG
that declares 23000×23000 grey pixels never allocates its 529 MB (2.1 GB more as float32).
"""

import tensorflow as tf

# 100 megapixels (e.g. 10000×10000): more than any camera photo of common use; decoded as RGB
# uint8 it is 300 MB. Pillow's DecompressionBombWarning threshold is of the same order (89.5 M).
MAX_PIXELS = 100_000_000
FORMATS = "JPEG, PNG, GIF or BMP"
# JPEG segments walked to find the frame header (SOF); real files have a handful before it.
MAX_JPEG_SEGMENTS = 1024
# GIF blocks (extensions, image descriptors, data sub-blocks of <= 255 bytes) walked to add up
# the frames, whose rasters the decoder allocates: 2**17 covers a GIF of over 32 MB.
MAX_GIF_BLOCKS = 2**17
_MAGIC = {"jpeg": b"\xff\xd8\xff", "png": b"\x89PNG", "gif": b"GIF8", "bmp": b"BM"}
# SOF0..SOF15 without DHT (C4), JPG (C8) and DAC (CC).
_SOF = tuple(m for m in range(0xC0, 0xD0) if m not in (0xC4, 0xC8, 0xCC))


def not_an_image_message(name):
    """The error text for bytes that are none of the formats."""
    return f"Failed to decode {name}: an element is not a {FORMATS} image"


def check_max_pixels(max_pixels, argument="max_pixels"):
    """Returns `max_pixels` if it is an int >= 1, else raises a ValueError naming `argument`."""
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise ValueError(f"`{argument}` must be an int >= 1 (the largest width × height "
                         f"accepted); got {argument}={max_pixels!r}.")
    return max_pixels


def _bytes_at(contents, pos, n):
    """`n` bytes of `contents` from `pos` as int64 [n], zero past the end (pos <= length)."""
    piece = tf.strings.substr(contents, pos, n)
    padded = tf.strings.substr(tf.strings.join([piece, b"\0" * n]), 0, n)
    return tf.reshape(tf.cast(tf.io.decode_raw(padded, tf.uint8), tf.int64), [n])


def _be(b):
    value = tf.constant(0, tf.int64)
    for i in range(b.shape[0]):
        value = value * 256 + b[i]
    return value


def _le(b):
    return _be(tf.reverse(b, [0]))


def _signed32(v):
    return tf.where(v >= 2**31, v - 2**32, v)


# A JPEG segment's first 9 bytes → (0xFF, marker, segment length, height, width) of an SOF.
_JPEG_FIELDS = [[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 256, 0, 0], [0, 0, 1, 0, 0],
                [0, 0, 0, 0, 0], [0, 0, 0, 256, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 256],
                [0, 0, 0, 0, 1]]


def _jpeg_size(contents, is_jpeg):
    """(height, width) from the first SOF segment, or (-1, -1) if none is found.

    Walks the segments from the start (so an SOF inside an APP segment, as an EXIF
    thumbnail's, is never taken for the image's); no iterations unless `is_jpeg`.
    """
    length = tf.strings.length(contents)
    fields = tf.constant(_JPEG_FIELDS, tf.int64)
    sof = tf.constant(_SOF, tf.int64)

    def cond(pos, i, height, width, done):
        return ~done & (i < MAX_JPEG_SEGMENTS) & (pos + 9 <= length)

    def body(pos, i, height, width, done):
        b = tf.cast(tf.io.decode_raw(tf.strings.substr(contents, pos, 9), tf.uint8), tf.int64)
        ff, marker, segment, h, w = tf.unstack(tf.reduce_sum(b[:, None] * fields, 0), 5)
        valid = tf.equal(ff, 0xFF)
        is_sof = valid & tf.reduce_any(tf.equal(marker, sof))
        fill = tf.equal(marker, 0xFF)
        standalone = tf.equal(marker, 0x01) | ((marker >= 0xD0) & (marker <= 0xD7))
        # Start of scan, end of image or a broken segment length: no SOF to find. Bytes
        # between segments that are not a marker are skipped one by one, as libjpeg does.
        stop = valid & (tf.equal(marker, 0xDA) | tf.equal(marker, 0xD9)
                        | (~fill & ~standalone & (segment < 2)))
        step = tf.where(~valid | fill, 1,
                        tf.where(standalone, 2, 2 + tf.cast(segment, tf.int32)))
        return (pos + step, i + 1, tf.where(is_sof, h, height), tf.where(is_sof, w, width),
                done | is_sof | stop)

    minus_one = tf.constant(-1, tf.int64)
    _, _, height, width, _ = tf.while_loop(
        cond, body, (tf.constant(2), tf.constant(0), minus_one, minus_one, ~is_jpeg))
    return height, width


def _gif_frames(contents, is_gif, flags):
    """(pixels of all frames, largest frame's height and width, walk complete) of a GIF.

    TensorFlow's GIF decoder (giflib's DGifSlurp) allocates and decodes every frame at the
    size its image descriptor declares, whatever the logical screen says, so each frame
    counts. No iterations unless `is_gif`.
    """
    length = tf.strings.length(contents)
    table = tf.bitwise.left_shift(tf.constant(3, tf.int64), tf.bitwise.bitwise_and(flags, 7) + 1)
    start = 13 + tf.cast(tf.where(tf.bitwise.bitwise_and(flags, 0x80) > 0, table, 0), tf.int32)
    zero = tf.constant(0, tf.int64)

    def cond(pos, i, in_blocks, total, height, width, done):
        return ~done & (i < MAX_GIF_BLOCKS) & (pos < length)

    def body(pos, i, in_blocks, total, height, width, done):
        b = _bytes_at(contents, pos, 10)
        # In data sub-blocks: a size byte, then that many bytes; size 0 ends them.
        block_end = tf.equal(b[0], 0)
        # At a block: 0x21 extension (label, sub-blocks), 0x2C image descriptor (position,
        # size, flags, local colour table, LZW code size, sub-blocks); else the trailer.
        is_ext, is_frame = tf.equal(b[0], 0x21), tf.equal(b[0], 0x2C)
        w, h, frame_flags = b[5] + 256 * b[6], b[7] + 256 * b[8], b[9]
        local = tf.where(tf.bitwise.bitwise_and(frame_flags, 0x80) > 0, tf.bitwise.left_shift(
            tf.constant(3, tf.int64), tf.bitwise.bitwise_and(frame_flags, 7) + 1), 0)
        next_block = tf.where(is_ext, pos + 2, pos + 11 + tf.cast(local, tf.int32))
        next_pos = tf.where(in_blocks, pos + 1 + tf.cast(b[0], tf.int32), next_block)
        frame = ~in_blocks & is_frame
        larger = frame & (w * h > height * width)
        return (next_pos, i + 1, tf.where(in_blocks, ~block_end, is_ext | is_frame),
                total + tf.where(frame, w * h, zero), tf.where(larger, h, height),
                tf.where(larger, w, width), ~in_blocks & ~is_ext & ~is_frame)

    pos, _, _, total, height, width, done = tf.while_loop(
        cond, body, (start, tf.constant(0), tf.constant(False), zero, zero, zero, ~is_gif))
    return total, height, width, done | (pos >= length)


# Plain TensorFlow ops throughout (no Python control flow on tensors): AutoGraph's conversion
# would only slow down every tf.function and tf.data map that calls these.
@tf.autograph.experimental.do_not_convert
def header_size(contents):
    """The (height, width) an encoded image's header declares, read without decoding it.

    For a GIF, the logical screen's or, if larger, its largest frame's.

    Args:
        contents: string scalar tensor. A JPEG, PNG, GIF or BMP file's bytes.

    Returns:
        (height, width) int64 scalars; (-1, -1) for bytes of none of the formats or a JPEG
        whose frame header is not among its first `MAX_JPEG_SEGMENTS` segments.
    """
    height, width, _, _ = _declared(contents)
    return height, width


def _declared(contents):
    """(height, width, pixels the decoder allocates, whether a GIF walk was complete)."""
    head = _bytes_at(contents, 0, 26)

    def starts_with(magic):
        return tf.equal(tf.strings.substr(contents, 0, len(magic)), magic)

    # No branches (cheap to trace and run): every format's fields are read, one is kept.
    jpeg = _jpeg_size(contents, starts_with(_MAGIC["jpeg"]))  # no iterations unless a JPEG
    is_gif = starts_with(_MAGIC["gif"])
    frames, frame_h, frame_w, complete = _gif_frames(contents, is_gif, head[10])
    screen_h, screen_w = _le(head[8:10]), _le(head[6:8])
    screen_larger = screen_h * screen_w >= frame_h * frame_w
    gif = (tf.where(screen_larger, screen_h, frame_h), tf.where(screen_larger, screen_w, frame_w))
    sizes = ((_MAGIC["png"], (_be(head[20:24]), _be(head[16:20]))),
             (_MAGIC["gif"], gif),
             (_MAGIC["bmp"], (tf.abs(_signed32(_le(head[22:26]))),
                              tf.abs(_signed32(_le(head[18:22]))))),
             (_MAGIC["jpeg"], jpeg))
    height = width = tf.constant(-1, tf.int64)
    for magic, (h, w) in reversed(sizes):
        height = tf.where(starts_with(magic), h, height)
        width = tf.where(starts_with(magic), w, width)
    pixels = tf.where(is_gif, tf.maximum(height * width, frames), height * width)
    return height, width, pixels, complete


@tf.autograph.experimental.do_not_convert
def decode_image(contents, channels, *, max_pixels=MAX_PIXELS, name="image"):
    """Decodes one encoded image to uint8 (height, width, `channels`), bounded in size.

    Fails with `tf.errors.InvalidArgumentError` before decoding when the bytes are not a
    JPEG, PNG, GIF or BMP image, or when the header declares more than `max_pixels` pixels;
    a corrupt image fails with the decoder's own InvalidArgument error. Colour images are
    converted to grey for `channels=1` and grey to RGB for 3; TensorFlow's GIF and BMP
    decoders cannot give one channel, so those are decoded as RGB and converted with
    `tf.image.rgb_to_grayscale`'s weights, rounded. A GIF gives its first frame.

    Args:
        contents: string scalar tensor. The file's bytes.
        channels: int. 1 or 3.
        max_pixels: int >= 1. Largest width × height accepted. Defaults to `MAX_PIXELS`.
        name: str. What the bytes are, in the error messages (`"image_bytes"`).

    Returns:
        uint8 tensor of shape (height, width, channels).
    """
    def starts_with(magic):
        return tf.equal(tf.strings.substr(contents, 0, len(magic)), magic)

    is_image = tf.reduce_any(tf.stack([starts_with(m) for m in _MAGIC.values()]))
    check_format = tf.debugging.Assert(is_image, [not_an_image_message(name)],
                                       name="check_image_format")
    with tf.control_dependencies([check_format]):
        height, width, pixels, complete = _declared(contents)
    limit = f"more than max_pixels={max_pixels} (refused before decoding)"
    too_large = tf.where(
        pixels == height * width,
        tf.strings.format(f"Failed to decode {name}: its header declares {{}}x{{}} = {{}} "
                          f"pixels, {limit}", (width, height, pixels)),
        tf.strings.format(f"Failed to decode {name}: its frames declare {{}} pixels in all "
                          f"(the largest {{}}x{{}}), {limit}", (pixels, width, height)))
    message = tf.where(
        height < 0, f"Failed to decode {name}: no JPEG frame header (SOF) in its first "
                    f"{MAX_JPEG_SEGMENTS} segments",
        tf.where(complete, too_large, f"Failed to decode {name}: a GIF of more than "
                                      f"{MAX_GIF_BLOCKS} blocks is not read"))
    check_size = tf.debugging.Assert((height >= 0) & complete & (pixels <= max_pixels),
                                     [message], name="check_image_size")

    def decode_as(c):
        with tf.control_dependencies([check_format, check_size]):
            return tf.io.decode_image(contents, channels=c, expand_animations=False,
                                      dtype=tf.uint8)

    if channels == 1:
        image = tf.cond(
            starts_with(_MAGIC["gif"]) | starts_with(_MAGIC["bmp"]),
            lambda: tf.cast(tf.round(tf.image.rgb_to_grayscale(
                tf.cast(decode_as(3), tf.float32))), tf.uint8),
            lambda: decode_as(1))
    else:
        image = decode_as(channels)
    image.set_shape([None, None, channels])
    return image
