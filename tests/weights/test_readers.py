"""kcnn.weights' readers: real torch files, the mimic writer, safetensors, legacy .h5, and
every kind of bad file (hostile pickles, truncations, text, wrong magic)."""

import gzip
import io
import json
import os
import pathlib
import pickle
import struct
import zipfile

import h5py
import numpy as np
import pytest

from kcnn.weights import (WeightsFileError, detect_format, read_keras_h5, read_safetensors,
                          read_torch, read_weights)
from weights.pth_writer import (LEGACY_MAGIC, Storage, Strided, fixture_state,
                                fixture_tensors, write_pth)

DATA = pathlib.Path(__file__).parent / "data"
TORCH_FILES = {"torch_zip": DATA / "torch_zip.pth", "torch_legacy": DATA / "torch_legacy.pth"}


def assert_same(got, expected):
    assert list(got) == list(expected)  # the file's order
    for name, array in expected.items():
        assert got[name].dtype == array.dtype, name
        assert got[name].shape == array.shape, name
        np.testing.assert_array_equal(got[name], array, err_msg=name)


# --- torch .pth ---------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", sorted(TORCH_FILES))
def test_reads_files_written_by_torch(fmt):
    # Written by torch 2.14.1 (make_pth_fixtures.py): a strided view, a slice sharing a
    # storage, a Parameter, bfloat16, float16/64, bool, ints, 0-d and empty tensors.
    path = TORCH_FILES[fmt]
    assert detect_format(path) == fmt
    tensors = read_torch(path)
    assert_same(tensors, fixture_tensors())
    assert tensors["fc.weight"].flags.c_contiguous and tensors["fc.weight"].flags.writeable


class _Trace(pickle.Unpickler):
    """Records the calls and storages a pickle asks for, running nothing of the file's."""

    def __init__(self, data):
        super().__init__(io.BytesIO(data))
        self.events = []

    def find_class(self, module, name):
        def call(*args):
            # torch's Parameter (and its hooks' OrderedDict()): the mimic writes none
            if name != "_rebuild_parameter" and (name, args) != ("OrderedDict", ()):
                self.events.append((f"{module}.{name}", args))
            return {} if name == "OrderedDict" else (args[0] if args else None)
        return call

    def persistent_load(self, pid):
        self.events.append(("storage", pid[2:]))
        return ("storage", pid[2])


def _trace(data):
    trace = _Trace(data)
    trace.load()
    return trace.events


def test_module_state_dict_with_metadata():
    # nn.Module.state_dict() (torchvision's files): an OrderedDict with `_metadata`.
    with zipfile.ZipFile(DATA / "torch_state_dict.pth") as zf:
        assert b"_metadata" in zf.read("torch_state_dict/data.pkl")
    tensors = read_torch(DATA / "torch_state_dict.pth")
    assert_same(tensors, {
        "0.weight": np.array([0.0, 1.0], np.float32).reshape(2, 1, 1, 1),
        "0.bias": np.array([1.0, 2.0], np.float32),
        "1.weight": np.array([2.0, 3.0], np.float32),
        "1.bias": np.array([3.0, 4.0], np.float32),
        "1.running_mean": np.array([4.0, 5.0], np.float32),
        "1.running_var": np.array([5.0, 6.0], np.float32),
        "1.num_batches_tracked": np.array(6, np.int64)})


def test_legacy_file_of_another_pickle_protocol():
    path = DATA / "torch_legacy_protocol4.pth"  # torch.save(..., pickle_protocol=4)
    assert detect_format(path) == "torch_legacy"
    assert_same(read_torch(path), {"w": np.array([0.0, 1.0, 2.0], np.float32)})


def test_dtypes_without_a_storage_class(tmp_path):
    # torch writes uint16/uint32 as _rebuild_tensor_v3 of an UntypedStorage and a dtype.
    tensors = read_torch(DATA / "torch_v3.pth")
    assert_same(tensors, {"u16": np.array([0, 1, 65535], np.uint16),
                          "u32": np.array([[7, 4294967295]], np.uint32)})
    with pytest.raises(WeightsFileError, match=r"dtype torch\.float8_e4m3fn, which NumPy "
                                               "cannot represent"):
        read_torch(DATA / "torch_float8.pth")


def test_mimic_writer_matches_torch(tmp_path):
    # The writer the other tests use writes what torch writes: the same globals and
    # storage records in the same order (torch's Parameter aside), the same tensors.
    mimic = tmp_path / "mimic.pth"
    write_pth(mimic, fixture_state(), archive="torch_zip")
    with zipfile.ZipFile(TORCH_FILES["torch_zip"]) as real, zipfile.ZipFile(mimic) as ours:
        expected = _trace(real.read("torch_zip/data.pkl"))
        assert sum(call == "torch._utils._rebuild_tensor_v2" for call, _ in expected) == 15
        assert _trace(ours.read("torch_zip/data.pkl")) == expected
        for i in range(14):
            assert ours.read(f"torch_zip/data/{i}") == real.read(f"torch_zip/data/{i}")
    assert_same(read_torch(mimic), fixture_tensors())


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_big_endian_and_archive_name(tmp_path, legacy):
    path = tmp_path / "weights.bin"  # the extension says nothing
    write_pth(path, fixture_state(), legacy=legacy, big_endian=True, archive="resnet18-x")
    assert_same(read_weights(path), fixture_tensors())


# --- hostile pickles: refused, nothing runs ----------------------------------------------
class _Hostile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _hostile_files(tmp_path, marker):
    payload = pickle.dumps(_Hostile(marker), protocol=2)
    in_state = pickle.dumps({"conv.weight": _Hostile(marker)}, protocol=2)
    evil_builtin = b"\x80\x02cbuiltins\neval\nq\x00X\x04\x00\x00\x001+1q\x01\x85q\x02Rq\x03."
    files = {}
    for name, data in (("zip", payload), ("zip_in_state", in_state), ("zip_eval", evil_builtin)):
        files[name] = tmp_path / f"{name}.pth"
        write_pth(files[name], {}, pickled=data)
    files["legacy"] = tmp_path / "legacy.pth"
    write_pth(files["legacy"], {}, legacy=True, pickled=payload)
    files["raw_pickle"] = tmp_path / "raw.pth"
    files["raw_pickle"].write_bytes(payload)
    return payload, files


def test_hostile_pickles_are_refused_and_run_nothing(tmp_path):
    marker = tmp_path / "MARKER"
    payload, files = _hostile_files(tmp_path, marker)
    pickle.loads(payload)  # the payload is live: plain unpickling runs it
    assert marker.exists()
    marker.unlink()
    messages = {}
    for name, path in files.items():
        with pytest.raises(WeightsFileError) as error:
            read_weights(path)
        assert not marker.exists(), name
        assert str(path) in str(error.value)
        messages[name] = str(error.value)
    assert "refused to load the global posix.system" in messages["zip"]
    assert "refused to load the global posix.system" in messages["zip_in_state"]
    assert "refused to load the global posix.system" in messages["legacy"]
    assert "refused to load the global builtins.eval" in messages["zip_eval"]
    assert "not a torch weights file" in messages["raw_pickle"]


def test_module_persistent_ids_and_non_tensors_are_refused(tmp_path):
    path = tmp_path / "module.pth"
    # BINPERSID of ("module", "MyNet", "source code") — a saved nn.Module's source.
    data = (b"\x80\x02(X\x06\x00\x00\x00moduleX\x05\x00\x00\x00MyNetX\x04\x00\x00\x00codetQ.")
    write_pth(path, {}, pickled=data)
    with pytest.raises(WeightsFileError, match="persistent id"):
        read_torch(path)
    write_pth(path, {"epoch": 3, "state_dict": {"w": np.ones(2, np.float32)}})
    with pytest.raises(WeightsFileError, match=r"not tensors.*checkpoint.*'state_dict'"):
        read_torch(path)


def test_tensor_outside_its_storage_is_refused(tmp_path):
    path = tmp_path / "bad.pth"
    for legacy in (False, True):  # a storage record that does not match its bytes
        write_pth(path, {"w": Strided(Storage(np.zeros(6, np.float32), numel=8), 0, (6,),
                                      (1,))}, legacy=legacy)
        with pytest.raises(WeightsFileError, match="storage 0 holds|truncated in storage 0"):
            read_torch(path)
    write_pth(path, {"w": Strided(Storage(np.zeros(6, np.float32)), 2, (2, 3), (3, 1))})
    with pytest.raises(WeightsFileError, match=r"reaches element 7 of storage 0, which holds 6"):
        read_torch(path)
    write_pth(path, {"w": Strided(Storage(np.zeros(1, np.float32)), 0, (10**9,), (0,))})
    with pytest.raises(WeightsFileError, match="larger than its storage"):
        read_torch(path)


# --- truncated, empty, text, wrong magic ----------------------------------------------------
@pytest.mark.parametrize("fmt", sorted(TORCH_FILES))
def test_truncated_torch_files(tmp_path, fmt):
    data = TORCH_FILES[fmt].read_bytes()
    for keep in (len(data) - 1, len(data) - 200, len(data) // 2, 60):
        path = tmp_path / f"cut{keep}.pth"
        path.write_bytes(data[:keep])
        with pytest.raises(WeightsFileError, match="truncated") as error:
            read_weights(path)
        assert str(path) in str(error.value)


@pytest.mark.parametrize("content, message", [
    (b"", "an empty file"),
    (b"resnet18 weights, see the README\n", "not a weights file"),
    (b"\x00\x01\x02\x03" * 10, "not a weights file"),
    (gzip.compress(b"abc", mtime=0), "gzip"),
    (b"\x80\x04\x95" + b"\x00" * 20, "not a torch weights file"),
], ids=["empty", "text", "binary", "gzip", "pickle"])  # ids of the bytes themselves would
# hold gzip's time stamp, and the two test workers must collect the same ids
def test_not_weights_files(tmp_path, content, message):
    path = tmp_path / "model.pth"
    path.write_bytes(content)
    with pytest.raises(WeightsFileError, match=message) as error:
        read_weights(path)
    assert str(path) in str(error.value)


def test_other_archives_and_missing_files(tmp_path):
    keras_zip = tmp_path / "model.keras"
    with zipfile.ZipFile(keras_zip, "w") as zf:
        zf.writestr("config.json", "{}")
        zf.writestr("model.weights.h5", b"")
    with pytest.raises(WeightsFileError, match="not a torch file.*data.pkl"):
        read_weights(keras_zip)
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        read_weights(tmp_path / "nowhere.pth")
    with pytest.raises(WeightsFileError, match="a directory"):
        read_weights(tmp_path)


# --- safetensors ---------------------------------------------------------------------------
def test_safetensors_round_trip_and_errors(tmp_path):
    from safetensors.numpy import save_file

    tensors = {"fc.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
               "bn.num_batches_tracked": np.array(3, np.int64),
               "conv1.weight": np.ones((2, 1, 3, 3), np.float16)}
    path = tmp_path / "resnet.pth"  # a safetensors file, whatever its name
    save_file(tensors, str(path), metadata={"format": "pt"})
    assert detect_format(path) == "safetensors"
    got = read_weights(path)
    assert sorted(got) == sorted(tensors)
    assert_same({k: got[k] for k in tensors}, tensors)
    data = path.read_bytes()
    for keep in (len(data) - 4, 40):
        cut = tmp_path / f"cut{keep}.safetensors"
        cut.write_bytes(data[:keep])
        with pytest.raises(WeightsFileError, match="truncated") as error:
            read_weights(cut)
        assert str(cut) in str(error.value)
    with pytest.raises(WeightsFileError, match="not safetensors"):
        read_safetensors(TORCH_FILES["torch_zip"])


def _raw_safetensors(path, dtype, data):
    header = json.dumps({"w": {"dtype": dtype, "shape": [2], "data_offsets": [0, len(data)]}})
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + data)


def test_safetensors_bfloat16_is_widened(tmp_path):
    # bfloat16 (timm's and many hub files): NumPy has none, safetensors' NumPy API refuses it.
    path = tmp_path / "bf16.safetensors"
    _raw_safetensors(path, "BF16", np.array([0x3F80, 0xC020], "<u2").tobytes())
    assert_same(read_weights(path), {"w": np.array([1.0, -2.5], np.float32)})
    _raw_safetensors(path, "F8_E4M3", b"\x38\x38")
    with pytest.raises(WeightsFileError, match="dtype F8_E4M3, which NumPy cannot"):
        read_weights(path)


# --- keras.applications' legacy .h5 --------------------------------------------------------
def _write_vgg_style_h5(path, weights, chunked=False):
    """The layout of vgg16_weights_tf_dim_ordering_tf_kernels.h5 (Keras 1 names, bytes)."""
    with h5py.File(path, "w") as f:
        layers = ["input_1", "block1_conv1", "block1_pool", "flatten", "fc1"]
        f.attrs["layer_names"] = np.array([n.encode() for n in layers])
        f.attrs["keras_version"] = b"1.1.0"
        f.attrs["backend"] = b"tensorflow"
        for layer in layers:
            group = f.create_group(layer)
            names = [n for n in weights if n.startswith(f"{layer}/")]
            attr = np.array([n.split("/", 1)[1].encode() for n in names])
            if chunked and names:  # Keras splits long lists as weight_names0, 1, ...
                group.attrs["weight_names0"], group.attrs["weight_names1"] = attr[:1], attr[1:]
            else:
                group.attrs["weight_names"] = attr
            for name in names:
                group.create_dataset(name.split("/", 1)[1], data=weights[name])


_KERNEL = np.arange(54, dtype=np.float32).reshape(3, 3, 3, 2)  # HWIO
VGG_STYLE = {"block1_conv1/block1_conv1_W_1:0": _KERNEL,
             "block1_conv1/block1_conv1_b_1:0": np.array([0.5, -0.5], np.float32),
             "fc1/fc1_W_1:0": np.ones((8, 4), np.float32),
             "fc1/fc1_b_1:0": np.zeros(4, np.float32)}


@pytest.mark.parametrize("chunked", [False, True])
def test_keras_applications_layout(tmp_path, chunked):
    path = tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
    _write_vgg_style_h5(path, VGG_STYLE, chunked)
    assert detect_format(path) == "keras_h5"
    assert_same(read_weights(path), VGG_STYLE)


def test_keras_legacy_h5_written_by_keras(tmp_path):
    # Keras's own legacy writer (model.save to .h5): the model_weights group, Keras 3 names.
    import keras

    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    outputs = keras.layers.Dense(3, name="fc")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    path = tmp_path / "model.h5"
    model.save(path)
    expected = {}
    for layer in model.layers:
        for weight in layer.weights:  # Keras's legacy order: trainable first
            expected[f"{layer.name}/{weight.path}"] = weight.numpy()
    order = ["conv/conv/kernel", "conv/conv/bias", "bn/bn/gamma", "bn/bn/beta",
             "bn/bn/moving_mean", "bn/bn/moving_variance", "fc/fc/kernel", "fc/fc/bias"]
    assert_same(read_keras_h5(path), {k: expected[k] for k in order})


def test_bad_h5_files(tmp_path):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        f.create_group("vars")
    with pytest.raises(WeightsFileError, match="no 'layer_names'.*Keras 3 .weights.h5"):
        read_keras_h5(path)
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([b"conv"])
        f.create_group("conv").attrs["weight_names"] = np.array([b"conv/kernel:0"])
    with pytest.raises(WeightsFileError, match="conv/conv/kernel:0 is listed"):
        read_keras_h5(path)
    good = tmp_path / "good.h5"
    _write_vgg_style_h5(good, VGG_STYLE)
    data = good.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsFileError, match="damaged or truncated HDF5") as error:
        read_weights(cut)
    assert str(cut) in str(error.value)
    with pytest.raises(WeightsFileError, match="not an HDF5"):
        read_keras_h5(TORCH_FILES["torch_legacy"])


def test_legacy_magic_is_torchs():
    assert (pickle.loads(TORCH_FILES["torch_legacy"].read_bytes()) == LEGACY_MAGIC)


def test_a_pickle_cannot_retarget_a_storage_dtype(tmp_path):
    # GLOBAL torch.FloatStorage, then BUILD (None, {"dtype": "O"}): an object dtype would
    # read pointers from the file's bytes. The marker is read-only.
    data = (b"\x80\x02ctorch\nFloatStorage\nq\x00N}X\x05\x00\x00\x00dtypeX\x01\x00\x00\x00Os"
            b"\x86b.")
    path = tmp_path / "retarget.pth"
    write_pth(path, {}, pickled=data)
    with pytest.raises(WeightsFileError, match="read-only"):
        read_torch(path)
