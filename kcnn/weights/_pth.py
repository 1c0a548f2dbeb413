"""torch `.pth` state dicts read with NumPy alone, executing nothing from the file.

A `.pth` file is a pickle of the state dict in which each tensor is a call of
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)` and
each storage a persistent id that points at raw bytes elsewhere in the file. Two layouts:

- the zip format (torch >= 1.6, `torch.save`'s default): a zip archive of stored entries
  under one folder named after the file, `<name>/data.pkl` (the pickle, protocol 2),
  `<name>/data/<key>` (one entry per storage, raw bytes), `<name>/byteorder` ("little" or
  "big"; absent in older files, which are little-endian), `<name>/version`;
  a storage's persistent id is `("storage", torch.FloatStorage, key, location, numel)`;
- the legacy format (`_use_new_zipfile_serialization=False`, and every file saved by
  torch before 1.6): five pickles and the raw storages in one stream — the
  magic number 0x1950a86a20f9469cfc6c, the protocol version 1001, a dict of system facts
  (`little_endian`), the state dict, the sorted list of storage keys — then for each key
  an int64 element count and the storage's bytes; a persistent id is
  `("storage", torch.FloatStorage, key, location, numel, view)`, `view` being None or
  `(view_key, offset, numel)` (a slice of another storage, in elements).

The unpickler's `find_class` allows only the few globals these pickles hold (the rebuild
functions, the storage classes and dtypes as inert markers, `collections.OrderedDict`);
anything else — `os.system`, `builtins.eval`, a module class — is refused before it is
imported, naming the file and the global. The rebuild functions are kcnn's own NumPy
functions, so no torch code runs (torch need not be installed), and they check every
offset, shape and stride against the storage they read.
"""

import collections
import io
import pickle
import re
import struct
import zipfile

import numpy as np

from kcnn.weights._errors import WeightsFileError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# storage class and dtype name → NumPy dtype (little-endian; "bfloat16" is widened below).
_STORAGES = {
    "DoubleStorage": "f8", "FloatStorage": "f4", "HalfStorage": "f2",
    "BFloat16Storage": "bfloat16", "LongStorage": "i8", "IntStorage": "i4",
    "ShortStorage": "i2", "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
    "ComplexDoubleStorage": "c16", "ComplexFloatStorage": "c8",
}
_DTYPES = {
    "float64": "f8", "double": "f8", "float32": "f4", "float": "f4", "float16": "f2",
    "half": "f2", "bfloat16": "bfloat16", "int64": "i8", "long": "i8", "int32": "i4",
    "int": "i4", "int16": "i2", "short": "i2", "int8": "i1", "uint8": "u1", "bool": "?",
    "complex128": "c16", "complex64": "c8", "uint16": "u2", "uint32": "u4", "uint64": "u8",
}


class _Marker:
    """An inert stand-in for a torch global (a storage class, a dtype); not callable, and
    immutable (a pickle's BUILD cannot retarget its dtype)."""

    __slots__ = ("name", "dtype")

    def __init__(self, name, dtype):
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "dtype", dtype)

    def __setattr__(self, name, value):
        raise AttributeError(f"{self!r} is read-only")

    def __repr__(self):
        return f"torch.{self.name}"


_UNTYPED = _Marker("storage.UntypedStorage", "u1")


class _Storage:
    """The flat array of one storage; `array` is None until a legacy file's bytes are read."""

    __slots__ = ("array", "key", "root")

    def __init__(self, array, key, root=None):
        self.array, self.key, self.root = array, key, root


class _Pending:
    """A tensor of a legacy file, rebuilt once its storage's bytes are read."""

    __slots__ = ("args",)

    def __init__(self, args):
        self.args = args


def _np_dtype(code, big_endian):
    if code == "bfloat16":
        return np.dtype(">u2" if big_endian else "<u2")
    return np.dtype(code).newbyteorder(">" if big_endian else "<")


def _widen(array, code):
    """Native byte order; bfloat16 bit patterns widened to float32 (NumPy has no bfloat16)."""
    if code == "bfloat16":
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array.astype(array.dtype.newbyteorder("="), copy=False)


class _Unpickler(pickle.Unpickler):
    """Unpickles a state dict; storages come from `read_storage(key, marker, numel)`."""

    def __init__(self, file, path, read_storage=None, big_endian=False):
        super().__init__(file, encoding="utf-8")  # Python 2 strings, as torch.load decodes them
        self._path, self._read_storage, self.big_endian = path, read_storage, big_endian
        self.views = {}  # view key → _Storage (legacy files' slices of a storage)
        self._globals = {
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("torch._utils", "_rebuild_tensor"): self._rebuild_tensor,
            ("torch._utils", "_rebuild_tensor_v2"): self._rebuild_tensor_v2,
            ("torch._utils", "_rebuild_tensor_v3"): self._rebuild_tensor_v3,
            ("torch._utils", "_rebuild_parameter"): self._rebuild_parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): self._rebuild_parameter,
            ("torch.storage", "UntypedStorage"): _UNTYPED,
            ("torch", "UntypedStorage"): _UNTYPED,
            **{("torch", n): _Marker(n, d) for n, d in {**_STORAGES, **_DTYPES}.items()},
        }

    def find_class(self, module, name):
        found = self._globals.get((module, name))
        if found is None and module == "torch" and re.fullmatch(
                r"(float8|float4|qu?int|quint|uint[1-7]\b|int[1-7]\b|complex32|chalf).*", name):
            raise WeightsFileError(f"{self._path}: holds a tensor of dtype torch.{name}, which "
                                   "NumPy cannot represent; convert it to float32 first.")
        if found is None:
            raise WeightsFileError(
                f"{self._path}: refused to load the global {module}.{name}: a weights file "
                "needs only tensors (torch._utils._rebuild_tensor_v2, storage classes, "
                "collections.OrderedDict), and kcnn never runs code from a file. If the "
                "file is trusted, load it with torch and re-save its state dict (tensors "
                "only), e.g. with safetensors.torch.save_file(state_dict, path).")
        return found

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"
                and isinstance(pid[1], _Marker) and isinstance(pid[2], str)
                and type(pid[4]) is int and pid[4] >= 0):
            raise WeightsFileError(
                f"{self._path}: refused the persistent id {pid!r}: only tensor storages are "
                "allowed (a saved nn.Module's source code is not).")
        view = pid[5] if len(pid) == 6 else None
        storage = self._read_storage(pid[2], pid[1], pid[4])
        if view is None:
            return storage
        if not (isinstance(view, tuple) and len(view) == 3 and isinstance(view[0], str)
                and all(type(v) is int and v >= 0 for v in view[1:])):
            raise WeightsFileError(f"{self._path}: bad storage view {view!r}.")
        if view[0] not in self.views:
            self.views[view[0]] = _Storage(None, view[0], (storage, view[1], view[2]))
            if storage.array is not None:
                self.fill_view(self.views[view[0]])
        return self.views[view[0]]

    def fill_view(self, view):
        """Sets a view's array: its slice of the root storage, bounds checked."""
        root, start, numel = view.root
        if start + numel > root.array.size:
            raise WeightsFileError(f"{self._path}: storage view {view.key} (elements {start} to "
                                   f"{start + numel}) lies outside storage {root.key} of "
                                   f"{root.array.size} elements.")
        view.array = root.array[start:start + numel]

    # The rebuild functions: NumPy arrays from storages, every index checked.
    def _rebuild_tensor(self, storage, offset, size, stride):
        if not isinstance(storage, _Storage):
            raise WeightsFileError(f"{self._path}: a tensor without a storage ({storage!r}).")
        if storage.array is None:  # a legacy file: the bytes come after the pickle
            return _Pending((storage, offset, size, stride))
        size, stride = _ints(size), _ints(stride)
        if (size is None or stride is None or len(size) != len(stride)
                or type(offset) is not int or offset < 0
                or any(s < 0 for s in size + stride)):
            raise WeightsFileError(f"{self._path}: bad tensor layout offset={offset!r} "
                                   f"size={size!r} stride={stride!r} (storage {storage.key}).")
        flat = storage.array
        if np.prod(size, dtype=object) > flat.size:  # state dicts hold no expanded tensors
            raise WeightsFileError(f"{self._path}: a tensor of size {size} is larger than its "
                                   f"storage {storage.key} of {flat.size} elements.")
        if 0 not in size:
            last = offset + sum((n - 1) * s for n, s in zip(size, stride))
            if last >= flat.size:
                raise WeightsFileError(
                    f"{self._path}: a tensor of size {size} (stride {stride}, offset "
                    f"{offset}) reaches element {last} of storage {storage.key}, which "
                    f"holds {flat.size}: the file is damaged.")
            view = np.lib.stride_tricks.as_strided(
                flat[offset:], shape=size, strides=[s * flat.itemsize for s in stride],
                writeable=False)
        else:
            view = np.empty(size, flat.dtype)
        return np.array(view, order="C")

    def _rebuild_tensor_v2(self, storage, offset, size, stride, requires_grad=False,
                           hooks=None, metadata=None):
        if metadata:
            raise WeightsFileError(f"{self._path}: tensor metadata {metadata!r} (conjugate or "
                                   "negative bits) is not supported.")
        return self._rebuild_tensor(storage, offset, size, stride)

    def _rebuild_tensor_v3(self, storage, offset, size, stride, requires_grad, hooks,
                           dtype, metadata=None):
        if not isinstance(dtype, _Marker) or dtype.name not in _DTYPES:
            raise WeightsFileError(f"{self._path}: unsupported tensor dtype {dtype!r}.")
        if isinstance(storage, _Storage) and storage.array is None:
            raise WeightsFileError(f"{self._path}: dtype {dtype!r} in a legacy torch file is "
                                   "not supported.")
        if isinstance(storage, _Storage) and storage.array.dtype == np.uint8:
            array = storage.array
            code = dtype.dtype
            itemsize = 2 if code == "bfloat16" else np.dtype(code).itemsize
            if array.size % itemsize:
                raise WeightsFileError(f"{self._path}: storage {storage.key} of {array.size} "
                                       f"bytes is not a whole number of {dtype} elements.")
            storage = _Storage(_widen(array.view(_np_dtype(code, self.big_endian)), code),
                               storage.key)
        return self._rebuild_tensor_v2(storage, offset, size, stride, metadata=metadata)

    def _rebuild_parameter(self, data, requires_grad=False, hooks=None, state=None):
        if not isinstance(data, (np.ndarray, _Pending)):
            raise WeightsFileError(f"{self._path}: a parameter without tensor data ({data!r}).")
        return data


def _ints(values):
    if isinstance(values, tuple) and all(type(v) is int for v in values):
        return values
    return None


def _state_dict(obj, path):
    """The unpickled object as `{name: array}`, or a WeightsFileError saying what it holds."""
    if not isinstance(obj, dict):
        raise WeightsFileError(
            f"{path}: holds a {type(obj).__name__}, not a state dict of tensors.")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, np.ndarray)]
    if bad:
        nested = [k for k in bad if isinstance(obj[k], dict)]
        hint = (f" It looks like a checkpoint: the state dict may be under {nested!r}."
                if nested else "")
        raise WeightsFileError(f"{path}: entries {bad[:5]!r} are not tensors; a weights file "
                               f"holds a state dict of tensors only.{hint}")
    return dict(obj)


def _load(file, path, read_storage=None, big_endian=False, unpickler=None):
    if unpickler is None:
        unpickler = _Unpickler(file, path, read_storage, big_endian)
    try:
        return unpickler.load()
    except WeightsFileError:
        raise
    except EOFError:
        raise WeightsFileError(f"{path}: truncated: the pickle ends early.") from None
    except Exception as error:  # the pickle is damaged or not a state dict
        raise WeightsFileError(
            f"{path}: cannot unpickle the state dict ({type(error).__name__}: {error}); the "
            "file is damaged, truncated or not a torch weights file.") from None


def read_pth_zip(path):
    """Tensors of a zip-format `.pth` file, as `{name: array}` in the file's order."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise WeightsFileError(f"{path}: a damaged or truncated zip archive ({error}).") from None
    with archive:
        names = archive.namelist()
        pickles = [n for n in names if re.fullmatch(r"[^/]+/data\.pkl", n)]
        if len(pickles) != 1:
            raise WeightsFileError(f"{path}: a zip archive, but not a torch file: it needs one "
                                   f"<name>/data.pkl entry, and has {pickles or 'none'}.")
        prefix = pickles[0][:-len("data.pkl")]
        try:
            order = archive.read(prefix + "byteorder").decode() if (
                prefix + "byteorder") in names else "little"
            if order not in ("little", "big"):
                raise WeightsFileError(f"{path}: unknown byteorder {order!r}.")
            storages = {}

            def read_storage(key, marker, numel):
                if key not in storages:
                    entry = f"{prefix}data/{key}"
                    if entry not in names:
                        raise WeightsFileError(f"{path}: the storage entry {entry} is missing.")
                    nbytes = numel * _np_dtype(marker.dtype, False).itemsize
                    if archive.getinfo(entry).file_size != nbytes:  # checked before reading
                        raise WeightsFileError(
                            f"{path}: storage {key} holds {archive.getinfo(entry).file_size} "
                            f"bytes; its record says {numel} {marker} elements ({nbytes} "
                            "bytes): the file is damaged.")
                    storages[key] = _storage(archive.read(entry), key, marker, numel,
                                             order == "big", path)
                return storages[key]

            return _state_dict(_load(io.BytesIO(archive.read(pickles[0])), path,
                                     read_storage, order == "big"), path)
        except (zipfile.BadZipFile, EOFError, OSError) as error:
            raise WeightsFileError(
                f"{path}: a damaged or truncated zip archive ({error}).") from None


def _storage(raw, key, marker, numel, big_endian, path):
    code = marker.dtype
    dtype = _np_dtype(code, big_endian)
    numel_bytes = numel * dtype.itemsize  # UntypedStorage: numel counts bytes (uint8)
    if len(raw) != numel_bytes:
        raise WeightsFileError(f"{path}: storage {key} holds {len(raw)} bytes; its record says "
                               f"{numel} {marker} elements ({numel_bytes} bytes): the file is "
                               "damaged or truncated.")
    return _Storage(_widen(np.frombuffer(raw, dtype), code), key)


def read_pth_legacy(path):
    """Tensors of a legacy (pre-zip) `.pth` file, as `{name: array}` in the file's order."""
    with open(path, "rb") as file:
        magic = _load(file, path)
        if magic != LEGACY_MAGIC:
            raise WeightsFileError(f"{path}: a pickle, but not a torch file (it starts with "
                                   f"{type(magic).__name__} {magic!r:.40}, not torch's magic "
                                   "number).")
        version = _load(file, path)
        if version != LEGACY_PROTOCOL:
            raise WeightsFileError(f"{path}: legacy torch protocol {version!r} is not "
                                   f"supported (only {LEGACY_PROTOCOL}).")
        info = _load(file, path)
        big_endian = isinstance(info, dict) and info.get("little_endian") is False
        roots = {}  # key → (_Storage, marker, numel); the bytes follow the pickle

        def read_storage(key, marker, numel):
            if key not in roots:
                roots[key] = (_Storage(None, key), marker, numel)
            elif roots[key][1:] != (marker, numel):
                raise WeightsFileError(f"{path}: storage {key} is recorded twice, differently.")
            return roots[key][0]

        unpickler = _Unpickler(file, path, read_storage, big_endian)
        obj = _load(file, path, unpickler=unpickler)
        keys = _load(file, path)
        if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
            raise WeightsFileError(f"{path}: bad storage key list {keys!r:.80}.")
        if set(keys) != set(roots):
            raise WeightsFileError(f"{path}: the storage list {sorted(keys)[:5]} does not match "
                                   f"the storages the tensors use {sorted(roots)[:5]}.")
        for key in keys:
            storage, marker, numel = roots[key]
            head = file.read(8)
            if len(head) != 8:
                raise WeightsFileError(f"{path}: truncated: storage {key} is missing.")
            (count,) = struct.unpack(">q" if big_endian else "<q", head)
            if count != numel:
                raise WeightsFileError(f"{path}: storage {key} holds {count} elements; its "
                                       f"record says {numel}.")
            nbytes = count * _np_dtype(marker.dtype, big_endian).itemsize
            raw = file.read(nbytes)
            if len(raw) != nbytes:
                raise WeightsFileError(f"{path}: truncated in storage {key} ({len(raw)} of "
                                       f"{nbytes} bytes).")
            storage.array = _storage(raw, key, marker, count, big_endian, path).array
        for view in unpickler.views.values():
            unpickler.fill_view(view)
    if isinstance(obj, dict):
        obj = {k: unpickler._rebuild_tensor(*v.args) if isinstance(v, _Pending) else v
               for k, v in obj.items()}
    return _state_dict(obj, path)
