"""Runs an export in a fresh Python process that never imports kcnn.

Run as a script (never imported by kcnn). `python _verify_child.py --runtime onnx|litert
MODEL_FILE IN.npz OUT.npz [THREADS]`: IN.npz holds float32 arrays `x_0`, `x_1`, ...; each
is run through the ONNX file in onnxruntime or the .tflite file in the LiteRT interpreter
(`ai_edge_litert`, else `tf.lite`), and OUT.npz gets `y_0`, `y_1`, ... (the graph's one
output). It prints one JSON line (runtime and version, input and output shapes).

`python _verify_child.py SAVED_MODEL_DIR IN.npz OUT.npz`: IN.npz holds `pixels` (uint8 [n, height, width, channels]), `png_<i>` (the
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


def run_runtime(runtime, model_file, in_path, out_path, threads=None):
    sys.meta_path.insert(0, _NoKcnn())
    import numpy as np

    threads = None if threads is None else int(threads)
    data = np.load(in_path)
    inputs = [data[f"x_{i}"] for i in range(len(data.files))]
    if runtime == "onnx":
        import onnxruntime as ort
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        session = ort.InferenceSession(model_file, options,
                                       providers=["CPUExecutionProvider"])
        (inp,), outs = session.get_inputs(), session.get_outputs()
        info = {"runtime": f"onnxruntime {ort.__version__}", "input": [inp.name, inp.type],
                "outputs": [o.name for o in outs]}

        def run(x):
            return session.run(None, {inp.name: x})[0]
    else:
        try:
            from ai_edge_litert import interpreter as litert
            name = "ai_edge_litert"
        except ImportError:
            import tensorflow as tf
            litert, name = tf.lite, "tf.lite"
        interpreter = litert.Interpreter(model_path=model_file, num_threads=threads)
        (inp,), outs = interpreter.get_input_details(), interpreter.get_output_details()
        info = {"runtime": name, "input": [inp["name"], str(inp["dtype"].__name__)],
                "outputs": [o["name"] for o in outs]}

        def run(x):
            interpreter.resize_tensor_input(inp["index"], x.shape)
            interpreter.allocate_tensors()
            interpreter.set_tensor(inp["index"], x)
            interpreter.invoke()
            return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.savez(out_path, **{f"y_{i}": run(x) for i, x in enumerate(inputs)})
    info["kcnn_imported"] = any(m == "kcnn" or m.startswith("kcnn.") for m in sys.modules)
    info["tensorflow_imported"] = "tensorflow" in sys.modules
    print(json.dumps(info))
    return 1 if info["kcnn_imported"] else 0


if __name__ == "__main__":
    if sys.argv[1] == "--runtime":
        sys.exit(run_runtime(*sys.argv[2:7]))
    sys.exit(main(*sys.argv[1:4]))
