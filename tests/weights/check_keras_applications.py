"""Acceptance check for keras.applications VGG16/VGG19, with and without top, full size
(run by hand; a minute): PYTHONPATH=. python tests/weights/check_keras_applications.py

keras.applications' model (weights=None) is filled with `seeded.seeded_state`, its weights
are named as in its legacy .h5 files and loaded into kcnn strictly; prints the worst
difference max|kcnn - keras| / max(1, max|keras|) on 224×224 inputs. Exits 1 above 1e-4.
"""

import os
import sys
import time

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from weights.seeded import seeded_images, seeded_state  # noqa: E402

import kcnn  # noqa: E402
from kcnn.weights.convert_keras import load_keras  # noqa: E402

BOUND = 1e-4


def main():
    failed = False
    shape = (224, 224, 3)
    x = seeded_images(shape)
    for depth in (16, 19):
        for top in (True, False):
            start = time.perf_counter()
            app = getattr(keras.applications, f"VGG{depth}")(
                weights=None, include_top=top, input_shape=shape, classifier_activation=None)
            state = seeded_state([(w.path, w.shape) for w in app.weights], layout="keras")
            app.set_weights([state[w.path] for w in app.weights])
            # The legacy files' names: group "block1_conv1", tensors "block1_conv1_W_1:0".
            file_names = {}
            for w in app.weights:
                layer, role = w.path.split("/")
                file_names[f"{layer}/{layer}_{'W' if role == 'kernel' else 'b'}_1:0"] = \
                    state[w.path]
            model = kcnn.models.get_model(f"vgg{depth}", input_shape=shape, include_top=top)
            load_keras(model, file_names)
            want, got = np.asarray(app(x)), np.asarray(model(x, training=False))
            worst = float(np.abs(got - want).max() / max(1.0, np.abs(want).max()))
            failed |= worst > BOUND
            print(f"VGG{depth} {'top  ' if top else 'notop'} output {want.shape[1:]}  worst "
                  f"{worst:.2e}  {'ok' if worst <= BOUND else 'FAIL'}  "
                  f"({time.perf_counter() - start:.1f} s)", flush=True)
            del app, model, state, file_names
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
