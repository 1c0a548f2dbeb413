"""Shared checkers: every model and every layer goes through the same checks."""

import collections
import contextlib
import json
import os
import socket
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    # The workers share the cores: each TensorFlow op gets its share of them (on CI's 2
    # cores, one thread per worker) instead of every worker using them all.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(max(
        1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


def count_trainable(model):
    """Trainable parameters, as papers and torchvision count them."""
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def closed_port():
    """A local TCP port that nothing listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_totals(name, model, summary):
    """`kcnn.analysis.summarize`'s totals are the model's own weights, every layer counted."""
    assert summary.totals["params"] == count_trainable(model), name
    assert summary.totals["non_trainable"] == int(sum(
        np.prod(w.shape) for w in model.non_trainable_weights)), name
    assert summary.totals["uncounted"] == (), (name, summary.totals["uncounted"])


def random_images(shape, batch=2, seed=0):
    return np.random.default_rng(seed).standard_normal((batch, *shape)).astype("float32")


def latest_checkpoint_step(output):
    """The step in `output`/checkpoints/latest.json (0 while there is none, or it is being
    replaced): for tests that watch a training process."""
    try:
        with open(output / "checkpoints" / "latest.json") as f:
            return json.load(f)["step"]
    except (OSError, ValueError, KeyError):
        return 0


def as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def assert_config_roundtrip(layer):
    """get_config → from_config → get_config is identical."""
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


def _assert_same_outputs(expected, got, atol):
    assert len(got) == len(expected)
    for e, g in zip(expected, got):
        e = np.asarray(e)
        scale = max(1.0, float(np.max(np.abs(e)))) if e.size else 1.0
        np.testing.assert_allclose(np.asarray(g), e, atol=atol * scale, rtol=0)


def assert_keras_roundtrip(model, inputs, path, atol=1e-6):
    """Saved as .keras and loaded with safe_mode=True, the model gives equal outputs (to
    `atol`, times the output's largest magnitude where that is above 1).

    Returns the model's outputs (a list), so a caller can check them further."""
    expected = as_list(model(inputs, training=False))
    model.save(path)
    # Every weight of the loaded model comes from the file, so the load builds it with
    # zeros instead of drawing random values it overwrites (most of the load's time:
    # FCN-32s 5.5 s -> 1.3 s): a weight the file failed to fill would stay zero and show
    # in the outputs below.
    with zero_random_initializers():
        loaded = keras.saving.load_model(path, safe_mode=True)
    got = as_list(loaded(inputs, training=False))
    _assert_same_outputs(expected, got, atol)
    return expected


def assert_model_config_roundtrip(model, inputs, atol=1e-6):
    """What a `.keras` file's config does, without the weights file: the model serialized
    and deserialized with safe_mode=True (built with zeros), given the model's weights,
    gives equal outputs (to `atol`, times the output's scale above 1). For models whose
    weights file is only size: writing and reading FCN-32s's 540 MB is 3 s of Keras's own
    code, and every layer kind has a file round trip on a smaller model.

    Returns the model's outputs (a list)."""
    expected = as_list(model(inputs, training=False))
    config = keras.saving.serialize_keras_object(model)
    with zero_random_initializers():
        clone = keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert [w.path for w in clone.weights] == [w.path for w in model.weights]
    clone.set_weights(model.get_weights())
    got = as_list(clone(inputs, training=False))
    _assert_same_outputs(expected, got, atol)
    return expected


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    """Layer-name counters and graph state do not leak between tests.

    Without `free_memory=False`, `clear_session` runs a full `gc.collect()` before every
    test (0.2–0.5 s each over a large heap); Python's own collector frees the cycles
    anyway (the whole suite peaks at about 7 GB either way).
    """
    keras.backend.clear_session(free_memory=False)
    yield


@contextlib.contextmanager
def zero_random_initializers():
    """Within it, Keras's random initializers return zeros (the shapes still go through
    every initializer call). For builds whose initial values nothing looks at: a count, or
    a model that a weights file fills next."""
    from keras.src.initializers.random_initializers import RandomInitializer

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    with pytest.MonkeyPatch.context() as patch:
        for cls in {RandomInitializer, *subclasses(RandomInitializer)}:
            if "__call__" in vars(cls):
                patch.setattr(cls, "__call__",
                              lambda self, shape, dtype=None: keras.ops.zeros(shape, dtype))
        yield


@pytest.fixture(scope="module")
def zero_initializers():
    """Keras's random initializers return zeros, for tests that count a full-size model's
    weights and MACs and never run it: drawing VGG-16's 138 M random values takes most of
    its build time (1.3 s of 1.6 s), and a count does not depend on them. The shapes still
    go through every initializer call; the sweep builds every model with real ones."""
    with zero_random_initializers():
        yield


@pytest.fixture
def temporary_model(monkeypatch):
    """Registers toy builders for one test only: the registry is global, and registry-wide
    tests (sweep, pinned counts, docs) must see only the real models."""
    from kcnn.models import _registry

    def register(builder):
        monkeypatch.setitem(_registry._MODELS, builder.__name__, builder)
        return builder

    return register


@pytest.fixture
def file_size_limit():
    """`limit(n)`: from then until the test ends, writing a file past `n` bytes fails with
    a real OSError (EFBIG, "File too large"; Python ignores SIGXFSZ), as a full disk makes
    writes fail (ENOSPC), through every writer: Python's, TensorFlow's, h5py's."""
    import resource

    saved = resource.getrlimit(resource.RLIMIT_FSIZE)

    def limit(size):
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, saved[1]))

    yield limit
    resource.setrlimit(resource.RLIMIT_FSIZE, saved)


@pytest.fixture(scope="session")
def tiny_tfds(tmp_path_factory):
    """A TFDS data folder holding `kcnn_tiny_shapes` (configs `fixed` and `varied`, see
    tests/tfds_cases.py), prepared once per session by `kcnn prepare`, the command the
    offline error recommends, through the real tensorflow-datasets code (no mock)."""
    import tfds_cases

    from kcnn.cli import main

    data_dir = str(tmp_path_factory.mktemp("tfds"))
    for config in ("fixed", "varied"):
        assert main(["prepare", f"{tfds_cases.NAME}/{config}", "--data-dir", data_dir]) == 0
    return data_dir


@pytest.fixture
def offline_env(tmp_path):
    """Environment variables under which any HTTP(S) request fails at once (a proxy on a
    closed port), with an empty TFDS_DATA_DIR: a machine with no network."""
    empty = tmp_path / "empty_tfds"
    empty.mkdir()
    proxy = f"http://127.0.0.1:{closed_port()}"
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(HTTP_PROXY=proxy, HTTPS_PROXY=proxy, http_proxy=proxy, https_proxy=proxy,
               TFDS_DATA_DIR=str(empty))
    return env


# --- two workers (pytest-xdist, --dist loadfile) ----------------------------------------

def pytest_collection_modifyitems(items):
    """Files with `slow` tests first (stable otherwise): xdist hands out files in this order,
    so the long ones run side by side from the start and the short ones fill the end."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


# --- the suite's time budget: a report, not a timed test --------------------------------

BUDGET_S = 360  # the whole suite on an idle 2-core machine (CI's size)
_SESSION = {}


def pytest_sessionstart(session):
    _SESSION["start"] = time.perf_counter()


def pytest_terminal_summary(terminalreporter):
    """Prints the suite's wall time against its budget, and the files that cost the most."""
    if "start" not in _SESSION:
        return
    wall = time.perf_counter() - _SESSION["start"]
    per_file = collections.Counter()
    for reports in terminalreporter.stats.values():
        for report in reports:
            if hasattr(report, "duration") and hasattr(report, "nodeid"):
                per_file[report.nodeid.split("::")[0]] += report.duration
    if not per_file:
        return
    write = terminalreporter.write_line
    terminalreporter.section("time budget")
    write(f"suite: {wall:.0f} s wall of a {BUDGET_S} s budget (idle 2-core machine; a busy "
          f"one takes longer); {sum(per_file.values()):.0f} s of test time over all workers")
    for path, seconds in per_file.most_common(8):
        write(f"  {seconds:6.1f} s  {path}")
