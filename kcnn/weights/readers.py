"""Readers of published weight files, executing nothing from the file.

Each reader returns the file's tensors as `dict[str, numpy.ndarray]` under the file's own
names and in the source's own layouts, in the file's order; the converters
(`kcnn.weights.convert_*`) map those to kcnn's weights. The format is told by the file's
first bytes, never by its extension:

| format         | reader              | names and layouts returned                          |
|----------------|---------------------|-----------------------------------------------------|
| `safetensors`  | `read_safetensors`  | the file's keys (timm's `*.tv_in1k`: torchvision's) |
| `torch_zip`    | `read_torch`        | the state dict's keys, `layer1.0.conv1.weight` OIHW |
| `torch_legacy` | `read_torch`        | as `torch_zip` (torch's format before 1.6)          |
| `keras_h5`     | `read_keras_h5`     | `"<layer>/<weight name>"`, the dataset's HDF5 path  |

Dtypes are kept (float32 weights, torch's int64 `num_batches_tracked`), in native byte
order; torch's bfloat16 is widened to float32, as NumPy has no bfloat16.

Example:
>>> tensors = kcnn.weights.read_weights("resnet18-f37072fd.pth")
>>> tensors["conv1.weight"].shape
(64, 3, 7, 7)
"""

import io
import json
import os
import pickle
import struct

import numpy as np

from kcnn.weights._errors import WeightsFileError

FORMATS = ("safetensors", "torch_zip", "torch_legacy", "keras_h5")

_HDF5 = b"\x89HDF\r\n\x1a\n"
_ZIP = b"PK\x03\x04"
# A legacy torch file starts with the pickle (protocol 2, torch's default) of its magic number.
_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_TORCH = b"\x80\x02\x8a\x0a" + _MAGIC.to_bytes(10, "little")
_EXPECTED = ("expected a .safetensors file, a torch .pth file (zip or legacy) or a "
             "keras.applications .h5 weights file")


def _head(path, size):
    path = os.fspath(path)
    if os.path.isdir(path):
        raise WeightsFileError(f"{path}: a directory, not a weights file.")
    with open(path, "rb") as file:  # FileNotFoundError names the path
        return file.read(size), os.fstat(file.fileno()).st_size


def detect_format(path):
    """The format of a weights file, told by its first bytes.

    Args:
        path: str or path-like. The file.

    Returns:
        One of `FORMATS`: "safetensors", "torch_zip", "torch_legacy", "keras_h5".

    Raises:
        FileNotFoundError: if there is no such file.
        WeightsFileError: (a ValueError) if the file is empty, truncated, or none of
            these, e.g. text, an arbitrary pickle, torch's old tar format.
    """
    head, size = _head(path, 4096 + 8)
    if not head:
        raise WeightsFileError(f"{path}: an empty file; {_EXPECTED}.")
    if head.startswith(_ZIP):
        return "torch_zip"
    if head.startswith(_LEGACY_TORCH) or (head[:1] == b"\x80" and _starts_with_magic(head)):
        return "torch_legacy"
    if any(head[offset:offset + 8] == _HDF5 for offset in (0, 512, 1024, 2048, 4096)):
        return "keras_h5"
    header_size = struct.unpack("<Q", head[:8])[0] if len(head) >= 9 else 0
    if head[8:9] == b"{" and header_size < 100_000_000:  # a header is kilobytes
        if header_size + 8 > size:
            raise WeightsFileError(
                f"{path}: a truncated safetensors file: its header needs "
                f"{header_size + 8} bytes, the file has {size}.")
        return "safetensors"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise WeightsFileError(
            f"{path}: a Python pickle, but not a torch weights file (no torch magic number); "
            "refused: kcnn unpickles only torch's tensor files, and never runs code from one.")
    if len(head) > 262 and head[257:262] == b"ustar":
        raise WeightsFileError(
            f"{path}: a tar archive (torch's earliest format?), which kcnn does not read; "
            "re-save its state dict with a current torch, or as safetensors.")
    if head[:2] == b"\x1f\x8b":
        raise WeightsFileError(f"{path}: a gzip-compressed file; decompress it first.")
    raise WeightsFileError(
        f"{path}: not a weights file (it starts with {head[:16]!r}); {_EXPECTED}.")


class _Inert(pickle.Unpickler):
    """Unpickles plain data only: any global or persistent id is an error."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"global {module}.{name}")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent id")


def _starts_with_magic(head):
    """A legacy torch file saved with another pickle protocol starts with the magic number
    (a pickle of a few dozen bytes: only those are unpickled, as plain data)."""
    try:
        return _Inert(io.BytesIO(head[:64])).load() == _MAGIC
    except Exception:  # not a pickle of plain data: not a torch file
        return False


def read_weights(path):
    """The tensors of a weights file of any supported format (see the module docstring).

    Args:
        path: str or path-like. A `.safetensors`, torch `.pth` or legacy Keras `.h5` file.

    Returns:
        `dict[str, numpy.ndarray]`: the file's tensors under its own names, in its order.

    Raises:
        FileNotFoundError: if there is no such file.
        WeightsFileError: (a ValueError) if the file is not a weights file, is damaged or
            truncated, or (a `.pth`) tries to load anything but tensors.
    """
    fmt = detect_format(path)
    if fmt == "safetensors":
        return read_safetensors(path)
    if fmt == "keras_h5":
        return read_keras_h5(path)
    return read_torch(path)


def read_safetensors(path):
    """The tensors of a `.safetensors` file, with the `safetensors` package's NumPy API.

    Args:
        path: str or path-like. The file.

    Returns:
        `dict[str, numpy.ndarray]` under the file's keys.

    Raises:
        WeightsFileError: if the file is not safetensors, or is damaged or truncated.
    """
    from safetensors import SafetensorError, safe_open

    fmt = detect_format(path)
    if fmt != "safetensors":
        raise WeightsFileError(f"{path}: a {fmt} file, not safetensors.")
    with open(path, "rb") as file:
        (size,) = struct.unpack("<Q", file.read(8))
        try:
            header = json.loads(file.read(size))
        except ValueError as error:
            raise WeightsFileError(f"{path}: a damaged safetensors header ({error}).") from None
    header.pop("__metadata__", None)
    tensors = {}
    try:
        with safe_open(os.fspath(path), framework="numpy") as file:  # checks the layout
            for name, info in header.items():  # in the header's order
                if info["dtype"] == "BF16":  # NumPy has no bfloat16: widened to float32
                    tensors[name] = _bfloat16(path, size, info)
                elif info["dtype"] not in _SAFETENSORS_DTYPES:
                    raise WeightsFileError(f"{path}: tensor {name!r} is of dtype "
                                           f"{info['dtype']}, which NumPy cannot represent.")
                else:
                    tensors[name] = file.get_tensor(name)
    except (SafetensorError, ValueError, TypeError, KeyError, OSError) as error:
        if isinstance(error, WeightsFileError):
            raise
        raise WeightsFileError(
            f"{path}: a damaged or truncated safetensors file ({error}).") from None
    return tensors


_SAFETENSORS_DTYPES = {"F64", "F32", "F16", "I64", "I32", "I16", "I8", "U64", "U32", "U16",
                       "U8", "BOOL", "C64"}


def _bfloat16(path, header_size, info):
    start, end = info["data_offsets"]
    with open(path, "rb") as file:
        file.seek(8 + header_size + start)
        bits = np.frombuffer(file.read(end - start), "<u2")
    return (bits.astype(np.uint32) << 16).view(np.float32).reshape(info["shape"])


def read_torch(path):
    """The state dict of a torch `.pth` file (zip or legacy format), without torch.

    The file is unpickled with an unpickler that allows only what a tensor file needs,
    torch need not be installed and is never imported (see `kcnn/weights/_pth.py` for the
    format). torchvision's published files are such state dicts.

    Args:
        path: str or path-like. The file.

    Returns:
        `dict[str, numpy.ndarray]` under the state dict's keys, torch's layouts (a
        convolution's kernel OIHW), every tensor a contiguous copy.

    Raises:
        WeightsFileError: if the file is not a torch file, is damaged or truncated, holds
            anything but a flat dict of tensors (a checkpoint, a pickled `nn.Module`), or
            its pickle asks for any other global (e.g. `os.system`): refused before
            anything is imported or called; the message names the file and the global.
    """
    from kcnn.weights import _pth

    fmt = detect_format(path)
    if fmt == "torch_zip":
        return _pth.read_pth_zip(os.fspath(path))
    if fmt == "torch_legacy":
        return _pth.read_pth_legacy(os.fspath(path))
    raise WeightsFileError(f"{path}: a {fmt} file, not a torch .pth file.")


def _names(group, name):
    """A list attribute of the legacy Keras layout, maybe split as name0, name1, ..."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values.extend(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def read_keras_h5(path):
    """The weights of a legacy Keras `.h5` file (keras.applications' published files).

    The layout is that of Keras's `save_weights` to HDF5 (and of a whole model saved to
    `.h5`, under its `model_weights` group): a `layer_names` attribute lists the layers,
    each layer's group a `weight_names` attribute its weights, and each weight is the
    dataset at that name inside the layer's group. The VGG16/VGG19 files, made with
    Keras 1, name them `block1_conv1/block1_conv1_W_1:0` and `.../block1_conv1_b_1:0`
    (kernels HWIO, dense kernels (in, out)); Keras 2 files `block1_conv1/block1_conv1/
    kernel:0`. Layers without weights are skipped.

    Args:
        path: str or path-like. The file.

    Returns:
        `dict[str, numpy.ndarray]` keyed `"<layer name>/<weight name>"` (the dataset's
        path in the file), in the order of `layer_names` and, within a layer, of its
        `weight_names` (the order Keras loads them in: kernel, bias; BatchNorm's gamma,
        beta, moving mean, moving variance).

    Raises:
        WeightsFileError: if the file is not HDF5, is damaged or truncated, or lacks the
            legacy layout (e.g. a Keras 3 `.weights.h5` file).
    """
    import h5py

    fmt = detect_format(path)
    if fmt != "keras_h5":
        raise WeightsFileError(f"{path}: a {fmt} file, not an HDF5 (.h5) file.")
    try:
        file = h5py.File(os.fspath(path), "r")
    except OSError as error:
        raise WeightsFileError(
            f"{path}: a damaged or truncated HDF5 file ({error}).") from None
    with file:
        group = file
        if "layer_names" not in file.attrs and "model_weights" in file:
            group = file["model_weights"]  # a whole model saved with model.save(".h5")
        layers = _names(group, "layer_names")
        if not layers:
            hint = (" It looks like a Keras 3 .weights.h5 file; load it with "
                    "model.load_weights." if "layers" in file or "vars" in file else "")
            raise WeightsFileError(
                f"{path}: an HDF5 file without the legacy Keras weights layout (no "
                f"'layer_names' attribute).{hint}")
        tensors = {}
        try:
            for layer in [*layers, "top_level_model_weights"]:
                if layer not in group:
                    if layer == "top_level_model_weights":
                        continue
                    raise WeightsFileError(f"{path}: layer {layer!r} is listed in "
                                           "'layer_names' but has no group.")
                for weight in _names(group[layer], "weight_names"):
                    if weight not in group[layer]:
                        raise WeightsFileError(f"{path}: weight {layer}/{weight} is listed "
                                               "in 'weight_names' but has no dataset.")
                    tensors[f"{layer}/{weight}"] = np.asarray(group[layer][weight])
        except (OSError, KeyError) as error:
            raise WeightsFileError(
                f"{path}: a damaged or truncated HDF5 file ({error}).") from None
    return tensors
