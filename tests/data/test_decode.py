"""The shared image decoder: sizes read from the header, oversized images refused undecoded."""

import io
import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kcnn.data.decode import MAX_PIXELS, decode_image, header_size


def encoded(fmt, array, **save):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def header_only_png(width, height):
    """A PNG signature and IHDR chunk only: a header claiming width × height, no pixel data."""
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr
            + struct.pack(">I", zlib.crc32(ihdr)))


def header_only(fmt, width, height):
    """Headers claiming width × height in each format (no decodable pixel data)."""
    if fmt == "PNG":
        return header_only_png(width, height)
    if fmt == "GIF":
        return b"GIF89a" + struct.pack("<HH", width, height) + b"\0\0\0"
    if fmt == "BMP":  # a top-down bitmap: negative height
        return (b"BM" + b"\0" * 12 + struct.pack("<iiiHH", 40, width, -height, 1, 24)
                + b"\0" * 24)
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\1\1\0\0\1\0\1\0\0"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\1\x11\0"
    return b"\xff\xd8" + app0 + b"\0\0\xff\xff" + sof0  # junk and a fill byte before SOF


@tf.function(input_signature=[tf.TensorSpec([], tf.string)])
def _size(contents):
    return header_size(contents)


def _decode(contents, channels=1, max_pixels=MAX_PIXELS):
    return decode_image(tf.constant(contents), channels, max_pixels=max_pixels,
                        name="image_bytes")


def test_header_size_of_every_format_without_decoding():
    rgb = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    files = {fmt: encoded(fmt, rgb) for fmt in ("PNG", "JPEG", "GIF", "BMP")}
    files["progressive JPEG with EXIF"] = encoded("JPEG", rgb, progressive=True,
                                                  exif=b"Exif\0\0" + b"x" * 3000)
    jpeg = files["JPEG"]  # two stray bytes after APP0: libjpeg skips them, and so do we
    app0_end = 4 + int.from_bytes(jpeg[4:6], "big")
    files["JPEG with junk between segments"] = jpeg[:app0_end] + b"\0\1" + jpeg[app0_end:]
    assert _decode(files["JPEG with junk between segments"], 3).shape == (37, 53, 3)
    for name, contents in files.items():
        assert [int(v) for v in _size(contents)] == [37, 53], name
    for fmt in ("PNG", "JPEG", "GIF", "BMP"):  # headers only, up to the formats' maxima
        assert [int(v) for v in _size(header_only(fmt, 65000, 23000))] == [23000, 65000], fmt
    for not_image in (b"", b"GIF", b"hello", b"\xff\xd8\xff\xda\0\2"):  # JPEG: SOS, no SOF
        assert [int(v) for v in _size(not_image)] == [-1, -1]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP"])
def test_oversized_images_are_refused_before_decoding(fmt):
    # A 23000×23000 header with no data: a decoder would fail on the missing data, so this
    # message shows the size was checked first (the exported graph: tests/export).
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Failed to decode image_bytes: its header declares 23000x23000 = "
                             r"529000000 pixels, more than max_pixels=100000000 \(refused "
                             r"before decoding\)"):
        _decode(header_only(fmt, 23000, 23000))
    small = encoded(fmt, np.full((16, 20), 90, np.uint8))  # 320 pixels
    assert _decode(small, max_pixels=320).shape == (16, 20, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"declares 20x16 = 320 pixels, "
                                                             r"more than max_pixels=319"):
        _decode(small, max_pixels=319)


def test_a_jpeg_without_a_frame_header_is_refused():
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"no JPEG frame header \(SOF\) in its first 1024 segments"):
        _decode(b"\xff\xd8\xff\xda\0\2" + b"\0" * 100)


def test_every_gif_frame_counts_whatever_the_logical_screen_says():
    """TensorFlow decodes a GIF at its frames' size (giflib reads every frame)."""
    frame = encoded("GIF", np.full((300, 400), 7, np.uint8))
    small_screen = frame[:6] + struct.pack("<HH", 16, 16) + frame[10:]
    assert tf.io.decode_image(small_screen, expand_animations=False).shape == (300, 400, 3)
    assert [int(v) for v in _size(small_screen)] == [300, 400]
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"declares 400x300 = 120000 pixels, more than max_pixels=119999"):
        _decode(small_screen, max_pixels=119_999)
    frames = [Image.fromarray(np.full((30, 40), 9 * i, np.uint8)) for i in range(5)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], comment=b"x")
    assert _decode(buffer.getvalue(), max_pixels=6000).shape == (30, 40, 1)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"its frames declare 6000 pixels in all \(the largest 40x30\), "
                             r"more than max_pixels=5999"):
        _decode(buffer.getvalue(), max_pixels=5999)
