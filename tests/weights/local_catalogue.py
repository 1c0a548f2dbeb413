"""The catalogue's published record of a model pointed at a file made here, and the
fresh-process call of an exported SavedModel: shared by the tests and the by-hand checks."""

import dataclasses
import hashlib
import pathlib

from kcnn.weights import catalogue, find_weights

# Runs in a fresh `python -c`: the SavedModel's serving_default on one image file's bytes;
# prints whether kcnn was imported, and the top-k indices and class names, as JSON.
SERVE = """
import json, sys
import tensorflow as tf
served = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
out = served(image_bytes=tf.constant([open(sys.argv[2], "rb").read()]))
print(json.dumps({"kcnn": any(m.split(".")[0] == "kcnn" for m in sys.modules),
                  "indices": out["top_k_indices"].numpy()[0].tolist(),
                  "names": [n.decode() for n in out["top_k_class_names"].numpy()[0]]}))
"""


def local_records(model, path):
    """`(record, records)`: `model`'s torchvision record with `path`'s `file://` URL, file
    name and SHA-256 prefix, and the whole catalogue with it in place of the published one
    (for `catalogue._records`)."""
    path = pathlib.Path(path).absolute()
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    real = find_weights(model, "torchvision")
    record = dataclasses.replace(real, url=path.as_uri(),
                                 file_name=f"{model}-{sha256[:8]}.pth", file_hash=sha256[:8])
    return record, tuple(record if r is real else r for r in catalogue._records())
