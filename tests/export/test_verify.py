"""Fresh-process verification: the SavedModel, loaded without kcnn, equals the Keras model."""

import importlib.util
import os
import re
import time

import keras
import pytest
import tensorflow as tf

import kcnn
from export.export_helpers import LENET_PREPROCESSING, trained_like
from kcnn.export import VerificationError, export_saved_model, verify_saved_model
from kcnn.export import verify as verify_module

pytestmark = pytest.mark.slow  # starts first in the two test workers (tests/conftest.py)

CIFAR = {"image_size": [32, 32], "channels": 3, "scale": 1 / 255,
         "mean": [0.4914, 0.4822, 0.4465], "std": [0.2470, 0.2435, 0.2616],
         "class_names": None}

CASES = {
    "lenet5": (dict(), LENET_PREPROCESSING),
    "resnet20": (dict(), CIFAR),
    "nin": (dict(), dict(CIFAR, class_names=[f"c{i}" for i in range(10)])),
    "googlenet": (dict(input_shape=(65, 65, 3), num_classes=10, aux_logits=True),
                  dict(CIFAR, image_size=[65, 65])),
}


def _case_model(name):
    """The case's model, with trained-looking BatchNorm (and how many weights that set)."""
    kwargs, _ = CASES[name]
    keras.utils.set_random_seed(0)
    model = kcnn.models.get_model(name, **kwargs)
    return model, trained_like(model)


def _export(name, base_dir):
    model, bn_weights = _case_model(name)
    return model, bn_weights, export_saved_model(model, base_dir,
                                                 preprocessing=CASES[name][1])


@pytest.fixture(scope="module")
def googlenet_export(tmp_path_factory):
    """GoogLeNet with its auxiliary heads, exported once for the two tests that read it."""
    return _export("googlenet", tmp_path_factory.mktemp("googlenet"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_fresh_process_outputs_equal_keras(name, tmp_path, request):
    preprocessing = CASES[name][1]
    if name == "lenet5":  # export(verify=True): the check runs before the version is moved
        model, bn_weights = _case_model(name)
        report = export_saved_model(model, tmp_path / name, preprocessing=preprocessing,
                                    verify=True).verification
        assert set(report["signatures"]) == {"serving_default", "predict_images"}
    else:  # the same check on the written version; saved_model_cli's listing only once
        model, bn_weights, result = (request.getfixturevalue("googlenet_export")
                                     if name == "googlenet" else _export(name, tmp_path))
        report = verify_saved_model(result.path, model, preprocessing, check_cli=False)
    assert report["tensorflow"] == tf.__version__
    diffs = report["max_abs_diff"]
    assert set(diffs) == {"serving_default", "predict_images"}
    for per_batch in diffs.values():
        assert set(per_batch) == {1, 7}
        assert max(per_batch.values()) <= 1e-5
    # Agreement within 1e-5 means something only if the outputs vary between images.
    assert report["output_spread"] > 1e-3
    print(f"{name}: max |SavedModel - Keras| {diffs}, spread {report['output_spread']:.3g}, "
          f"{bn_weights} BatchNorm weights set")


def test_auxiliary_heads_are_not_exported(googlenet_export):
    model, _, result = googlenet_export
    assert len(model.outputs) == 3
    loaded = tf.saved_model.load(result.path)
    # Dropout's random-seed state is saved too; it is not a weight.
    saved = {v.name.removesuffix(":0") for v in loaded.variables
             if "seed_generator" not in v.name}
    weights = {w.path for w in model.weights}
    aux = {p for p in weights if p.startswith(("aux1/", "aux2/"))}
    assert aux and saved == weights - aux
    out = loaded.signatures["predict_images"](images=tf.zeros((2, 65, 65, 3)))
    assert set(out) == {"probabilities", "top_k_scores", "top_k_indices"}
    assert out["probabilities"].shape == (2, 10)


def test_verification_catches_a_mismatch(lenet_export):
    model, result, _ = lenet_export
    wrong = dict(LENET_PREPROCESSING, mean=[0.45])  # the export used 0.5
    with pytest.raises(VerificationError, match="differ from the Keras model's by"):
        verify_saved_model(result.path, model, wrong, check_cli=False, batch_sizes=(2,))


def test_child_blocks_kcnn_imports():
    spec = importlib.util.spec_from_file_location("verify_child", verify_module._CHILD)
    child = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(child)
    with pytest.raises(ImportError, match="must not import 'kcnn.models'"):
        child._NoKcnn().find_spec("kcnn.models")
    assert child._NoKcnn().find_spec("tensorflow") is None
    with open(verify_module._CHILD) as f:
        assert not re.search(r"^\s*(import|from)\s+kcnn", f.read(), re.MULTILINE)
    assert os.path.dirname(verify_module._CHILD).endswith(os.path.join("kcnn", "export"))


_LISTING = """signature_def['predict_images']:
  The given SavedModel SignatureDef contains the following input(s):
    inputs['images'] tensor_info:
        dtype: DT_FLOAT
        shape: (-1, -1, -1, 3)
        name: predict_images_images:0
  The given SavedModel SignatureDef contains the following output(s):
    outputs['probabilities'] tensor_info:
        dtype: DT_FLOAT
        shape: (-1, 4)
        name: StatefulPartitionedCall:0
    outputs['top_k_indices'] tensor_info:
        dtype: DT_INT32
        shape: (-1, 2)
        name: StatefulPartitionedCall:1
    outputs['top_k_scores'] tensor_info:
        dtype: DT_FLOAT
        shape: (-1, 2)
        name: StatefulPartitionedCall:2
  Method name is: tensorflow/serving/predict

signature_def['serving_default']:
  The given SavedModel SignatureDef contains the following input(s):
    inputs['image_bytes'] tensor_info:
        dtype: DT_STRING
        shape: (-1)
        name: serving_default_image_bytes:0
  The given SavedModel SignatureDef contains the following output(s):
    outputs['probabilities'] tensor_info:
        dtype: DT_FLOAT
        shape: (-1, 4)
        name: StatefulPartitionedCall_1:0
    outputs['top_k_indices'] tensor_info:
        dtype: DT_INT32
        shape: (-1, 2)
        name: StatefulPartitionedCall_1:1
    outputs['top_k_scores'] tensor_info:
        dtype: DT_FLOAT
        shape: (-1, 2)
        name: StatefulPartitionedCall_1:2
  Method name is: tensorflow/serving/predict
"""


def test_saved_model_cli_listing_is_checked():
    check = verify_module._check_cli_listing
    listed = check(_LISTING, num_classes=4, top_k=2, channels=3, class_names=None)
    assert listed["serving_default"]["inputs"] == {"image_bytes": ("DT_STRING", "(-1)")}
    with pytest.raises(VerificationError, match="saved_model_cli show lists"):
        check(_LISTING.replace("shape: (-1)\n", "shape: (-1, 1)\n"), num_classes=4,
              top_k=2, channels=3, class_names=None)
    with pytest.raises(VerificationError, match="saved_model_cli show lists"):
        check(_LISTING, num_classes=4, top_k=2, channels=3, class_names=["a", "b", "c", "d"])


_PARENT = """
import sys, time
from kcnn._child_process import start  # verify_saved_model's children (no TensorFlow here)
children = [start([sys.executable, "-c", "import time; time.sleep(120)"]) for _ in range(2)]
print(*[c.pid for c in children], flush=True)
time.sleep(120)
"""


def _running(pid):
    """Whether `pid` runs (a zombie waiting to be reaped does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc (Linux)")
def test_killing_the_exporter_kills_the_verification_children():
    """`kcnn export --verify` killed with SIGTERM or SIGKILL: its children die with it."""
    import signal
    import subprocess
    import sys
    for sig in (signal.SIGTERM, signal.SIGKILL):
        parent = subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE,
                                  text=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(
                                      [os.path.dirname(os.path.dirname(kcnn.__file__)),
                                       os.environ.get("PYTHONPATH", "")])))
        pids = [int(p) for p in parent.stdout.readline().split()]
        try:
            assert len(pids) == 2
            assert _wait_until(lambda: all(  # the launcher has exec'd the command
                b"time.sleep(120)" in open(f"/proc/{p}/cmdline", "rb").read() for p in pids))
            parent.send_signal(sig)
            parent.wait(timeout=20)
            assert _wait_until(lambda: not any(_running(p) for p in pids)), sig
        finally:
            for p in pids:
                if _running(p):
                    os.kill(p, signal.SIGKILL)
            parent.kill()
            parent.wait()


def test_ctrl_c_while_waiting_kills_the_child():
    import signal
    import sys

    from kcnn import _child_process
    assert verify_module.start_child is _child_process.start  # as the test above kills
    child = verify_module._start([sys.executable, "-c", "import time; time.sleep(120)"])

    def interrupt(signum, frame):
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(KeyboardInterrupt):
            verify_module._finish(child, 60, "the fresh-process check")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
