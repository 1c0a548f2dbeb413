"""A test-side writer of torch's `.pth` formats without torch, and the fixtures' tensors.

`write_pth` mimics `torch.save` of a state dict: the zip format (default) or the legacy
format. The mimic is checked against files torch itself wrote
(`tests/weights/data/torch_*.pth`, made by `make_pth_fixtures.py` from
`fixture_tensors()`): same globals, same persistent ids, same tensors read back.
"""

import collections
import pickle
import struct
import zipfile

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_NAMES = {"float64": "DoubleStorage", "float32": "FloatStorage", "float16": "HalfStorage",
          "int64": "LongStorage", "int32": "IntStorage", "int16": "ShortStorage",
          "int8": "CharStorage", "uint8": "ByteStorage", "bool": "BoolStorage"}


def bfloat16_bits(values):
    """The bfloat16 bit patterns (uint16) of float32 values exact in bfloat16."""
    bits = np.asarray(values, np.float32).view(np.uint32)
    assert not np.any(bits & 0xFFFF), "not exact in bfloat16"
    return (bits >> 16).astype(np.uint16)


def fixture_tensors():
    """The state dict of the committed fixtures, as NumPy expects to read it back.

    Returns:
        `{name: array}`; "bf16" as float32 (the reader widens bfloat16).
    """
    base = np.arange(10, dtype=np.float32) * 0.5 - 2.0
    return {
        "conv.weight": (np.arange(108, dtype=np.float32) * 0.25 - 13.0).reshape(4, 3, 3, 3),
        "bn.running_var": np.array([0.5, 1.0, 1.5, 2.0], np.float32),
        "bn.num_batches_tracked": np.array(7, np.int64),
        "fc.weight": (np.arange(15, dtype=np.float32) - 7.0).reshape(5, 3).T,  # strided
        "base": base,
        "slice": base[3:7],  # shares base's storage, at an offset
        "param": np.array([1.5, -0.25], np.float32),  # an nn.Parameter in the torch file
        "half": np.array([[1.0, -2.0], [0.5, 65504.0]], np.float16),
        "bf16": np.array([1.0, -2.5, 3.0, 0.15625], np.float32),
        "double": np.array([1e-300, -2.0, 3.5], np.float64),
        "flag": np.array([True, False]),
        "int32": np.arange(6, dtype=np.int32).reshape(2, 3) - 3,
        "uint8": np.array([0, 1, 254, 255], np.uint8),
        "scalar": np.array(2.5, np.float32),
        "empty": np.zeros((0, 3), np.float32),
    }


class Global:
    """A torch global, written as GLOBAL `module name` (callable only to please pickle)."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):
        raise TypeError("a marker")


class Storage:
    """A flat storage; `torch_name` defaults from the dtype (BFloat16Storage: uint16 bits).

    `numel` (default: the array's size) is the element count the file records.
    """

    def __init__(self, array, torch_name=None, numel=None):
        self.array = np.array(array, order="C").ravel()
        self.torch_name = torch_name or _NAMES[self.array.dtype.name]
        self.numel = self.array.size if numel is None else numel


class Strided:
    """A tensor as a view of a storage: any offset, size and stride (in elements)."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


def tensor(array):
    """A contiguous tensor of its own storage."""
    array = np.asarray(array)
    strides = [int(np.prod(array.shape[i + 1:])) for i in range(array.ndim)]  # C order
    return Strided(Storage(array), 0, array.shape, tuple(strides))


class _Pickler(pickle._Pickler):
    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file, legacy):
        super().__init__(file, protocol=2)
        self.legacy, self.storages = legacy, {}  # id → (key, Storage)

    def persistent_id(self, obj):
        if not isinstance(obj, Storage):
            return None
        key = self.storages.setdefault(id(obj), (str(len(self.storages)), obj))[0]
        pid = ("storage", Global("torch", obj.torch_name), key, "cpu", obj.numel)
        return pid + (None,) if self.legacy else pid

    def reducer_override(self, obj):
        if isinstance(obj, np.ndarray):
            obj = tensor(obj)
        if isinstance(obj, Strided):
            return (Global("torch._utils", "_rebuild_tensor_v2"),
                    (obj.storage, obj.offset, tuple(obj.size), tuple(obj.stride), False,
                     collections.OrderedDict()))
        return NotImplemented

    def _save_global(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    dispatch[Global] = _save_global


def _bytes(storage, big_endian):
    array = storage.array
    return array.astype(array.dtype.newbyteorder(">" if big_endian else "<")).tobytes()


def write_pth(path, state, *, legacy=False, big_endian=False, archive="archive",
              pickled=None):
    """Writes `state` (name → array, `Strided` or anything picklable) as torch would.

    Args:
        path: the file.
        state: dict. The state dict.
        legacy: bool. The legacy (pre-zip) format instead of the zip format.
        big_endian: bool. Storages in big-endian byte order (and say so in the file).
        archive: str. The zip's top folder (torch uses the file's stem).
        pickled: bytes or None. Use these bytes as the state dict's pickle instead.
    """
    import io
    buffer = io.BytesIO()
    pickler = _Pickler(buffer, legacy)
    pickler.dump(collections.OrderedDict(state))
    data = buffer.getvalue() if pickled is None else pickled
    storages = [s for _, s in pickler.storages.values()]
    if legacy:
        with open(path, "wb") as file:
            for obj in (LEGACY_MAGIC, 1001, {"protocol_version": 1001,
                                             "little_endian": not big_endian,
                                             "type_sizes": {"short": 2, "int": 4, "long": 4}}):
                pickle.dump(obj, file, protocol=2)
            file.write(data)
            pickle.dump(sorted(str(i) for i in range(len(storages))), file, protocol=2)
            for key in sorted(str(i) for i in range(len(storages))):
                storage = storages[int(key)]
                file.write(struct.pack(">q" if big_endian else "<q", storage.numel))
                file.write(_bytes(storage, big_endian))
        return
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{archive}/data.pkl", data)
        zf.writestr(f"{archive}/byteorder", "big" if big_endian else "little")
        for i, storage in enumerate(storages):
            zf.writestr(f"{archive}/data/{i}", _bytes(storage, big_endian))
        zf.writestr(f"{archive}/version", "3\n")


def fixture_state():
    """`fixture_tensors()` laid out as torch lays it out (for `write_pth`).

    "fc.weight" a transposed view (stride (1, 3)), "slice" a view of "base"'s storage at
    offset 3, "bf16" a BFloat16Storage; the rest contiguous tensors of their own storage.
    """
    tensors = fixture_tensors()
    state = {name: tensor(array) for name, array in tensors.items()}
    state["fc.weight"] = Strided(Storage(tensors["fc.weight"].T), 0, (3, 5), (1, 3))
    state["slice"] = Strided(state["base"].storage, 3, (4,), (1,))
    state["bf16"] = Strided(Storage(bfloat16_bits(tensors["bf16"]), "BFloat16Storage"),
                            0, (4,), (1,))
    return state
