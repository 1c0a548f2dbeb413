"""Peak memory of a decompression-bomb request to an exported SavedModel's serving_default.

    python -m benchmarks.serving_bomb [--side 23000] [--out benchmarks/results]

Exports a LeNet-5 (1 channel, 32×32) with this checkout's kcnn, writes a PNG whose header
declares side × side grey pixels (all zero, zlib-compressed: about 500 KB for 23000), and in a
fresh process loads the SavedModel with `tf.saved_model.load`, calls `serving_default` once on
a 32×32 PNG (the baseline) and once on the bomb, and records the peak resident memory
(`ru_maxrss`) after each call, the bomb call's wall time and its error, to a JSON file.
"""

import argparse
import datetime
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

_CHILD = r"""
import json, resource, sys, time
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
small = tf.io.encode_png(tf.zeros([32, 32, 1], tf.uint8))
serve(image_bytes=tf.stack([small]))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
bomb = open(sys.argv[2], "rb").read()
start, error = time.perf_counter(), None
try:
    serve(image_bytes=tf.constant([bomb]))
except tf.errors.OpError as e:
    error = f"{type(e).__name__}: " + [l for l in e.message.splitlines() if l.strip()][-2][:300]
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"maxrss_after_small_request_mib": base / 1024,
                  "maxrss_after_bomb_request_mib": peak / 1024,
                  "bomb_request_seconds": round(seconds, 3), "bomb_error": error}))
"""


def bomb_png(path, side):
    """A grey PNG declaring side × side pixels, all zero, written row by row."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    compress = zlib.compressobj(9)
    row = b"\0" * (side + 1)  # filter byte 0, then the pixels
    data = b"".join(compress.compress(row) for _ in range(side)) + compress.flush()
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)))
        f.write(chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return os.path.getsize(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=23000)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument("--label", default="kcnn")
    args = parser.parse_args(argv)
    import kcnn
    from kcnn.export import export_saved_model
    with tempfile.TemporaryDirectory() as tmp:
        size = bomb_png(os.path.join(tmp, "bomb.png"), args.side)
        path = export_saved_model(kcnn.models.lenet5(), os.path.join(tmp, "m"),
                                  warmup=False).path
        proc = subprocess.run([sys.executable, "-c", _CHILD, path,
                               os.path.join(tmp, "bomb.png")], capture_output=True,
                              text=True, check=True,
                              env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    result = {"what": "serving_default on one PNG declaring side x side pixels",
              "side": args.side, "png_bytes": size, "label": args.label,
              "kcnn": os.path.dirname(os.path.abspath(kcnn.__file__)),
              **json.loads(proc.stdout.strip().splitlines()[-1])}
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    os.makedirs(args.out, exist_ok=True)
    out = os.path.join(args.out, f"serving-bomb-{args.label}-{stamp}.json")
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
