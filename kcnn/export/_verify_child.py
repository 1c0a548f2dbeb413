"""Runs a SavedModel's signatures in a fresh Python process that never imports kcnn.

Run as a script (never imported by kcnn): python _verify_child.py SAVED_MODEL_DIR IN.npz
OUT.npz. IN.npz holds `pixels` (uint8 [n, height, width, channels]), `png_<i>` (the
encoded bytes of image i as uint8 arrays) and `batch_sizes`. For every batch size b it
calls `serving_default` on the first b encoded images and `predict_images` on the first b
pixel arrays, and writes `<signature>/<b>/<output>` arrays to OUT.npz. It prints one
JSON line describing what it loaded.
"""

import importlib.abc
import json
import sys


class _NoKcnn(importlib.abc.MetaPathFinder):
    """Makes any `import kcnn...` fail, proving the SavedModel does not need it."""

    def find_spec(self, name, path=None, target=None):
        if name == "kcnn" or name.startswith("kcnn."):
            raise ImportError(f"verification must not import {name!r}")
        return None


def main(saved_model_dir, in_path, out_path):
    sys.meta_path.insert(0, _NoKcnn())
    import numpy as np
    import tensorflow as tf

    data = np.load(in_path)
    pixels = data["pixels"]
    encoded = [data[f"png_{i}"].tobytes() for i in range(len(pixels))]
    loaded = tf.saved_model.load(saved_model_dir)
    results, info = {}, {"signatures": {}}
    for name, fn in loaded.signatures.items():
        _, kwargs = fn.structured_input_signature
        info["signatures"][name] = {
            "inputs": sorted(kwargs), "outputs": sorted(fn.structured_outputs)}
    for b in data["batch_sizes"].tolist():
        calls = {"serving_default": {"image_bytes": tf.constant(encoded[:b])},
                 "predict_images": {"images": tf.constant(pixels[:b].astype(np.float32))}}
        for name, kwargs in calls.items():
            for key, value in loaded.signatures[name](**kwargs).items():
                value = value.numpy()
                if value.dtype == object:  # strings: saved as unicode, not pickled
                    value = np.char.decode(value.astype(bytes), "utf-8")
                results[f"{name}/{b}/{key}"] = value
    np.savez(out_path, **results)
    info["kcnn_imported"] = any(m == "kcnn" or m.startswith("kcnn.") for m in sys.modules)
    info["tensorflow"] = tf.__version__
    print(json.dumps(info))
    return 1 if info["kcnn_imported"] else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
