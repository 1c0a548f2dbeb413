"""Writes tests/weights/data/torch_zip.pth and torch_legacy.pth with torch itself.

Run by hand, with torch installed (the suite does not need torch):
    /work/torchenv/bin/python tests/weights/make_pth_fixtures.py

The tensors are `pth_writer.fixture_tensors()`, laid out as `fixture_state()` describes
(a transposed view, a slice sharing a storage, a Parameter, bfloat16, ...).
"""

import collections
import pathlib
import sys

import torch

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from pth_writer import fixture_tensors  # noqa: E402


def main():
    tensors = {name: torch.from_numpy(array.copy()) for name, array in fixture_tensors().items()}
    tensors["fc.weight"] = tensors["fc.weight"].T.contiguous().T  # stride (1, 3)
    tensors["slice"] = tensors["base"][3:7]  # one storage, offset 3
    tensors["param"] = torch.nn.Parameter(tensors["param"])
    tensors["bf16"] = tensors["bf16"].to(torch.bfloat16)
    tensors["empty"] = torch.zeros(0, 3)  # stride (3, 1); from_numpy's would be (0, 0)
    assert tensors["fc.weight"].stride() == (1, 3)
    state = collections.OrderedDict(tensors)  # as torchvision's state_dict()
    torch.save(state, HERE / "data" / "torch_zip.pth")
    torch.save(state, HERE / "data" / "torch_legacy.pth", _use_new_zipfile_serialization=False)
    # dtypes without a legacy storage class: torch writes _rebuild_tensor_v3 of an
    # UntypedStorage and the dtype; float8 has no NumPy dtype (refused).
    new = collections.OrderedDict(
        u16=torch.tensor([0, 1, 65535], dtype=torch.uint16),
        u32=torch.tensor([[7, 4294967295]], dtype=torch.uint32))
    torch.save(new, HERE / "data" / "torch_v3.pth")
    torch.save({"w": torch.ones(2, dtype=torch.float8_e4m3fn)}, HERE / "data" / "torch_float8.pth")
    torch.save({"w": torch.arange(3.0)}, HERE / "data" / "torch_legacy_protocol4.pth",
               _use_new_zipfile_serialization=False, pickle_protocol=4)
    # A module's state_dict(), as torchvision publishes them: an OrderedDict carrying
    # `_metadata` (set by the pickle's BUILD), Parameters and buffers.
    module = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))
    with torch.no_grad():
        for i, tensor in enumerate(module.state_dict().values()):
            tensor.copy_(torch.arange(tensor.numel()).reshape(tensor.shape) + i)
    torch.save(module.state_dict(), HERE / "data" / "torch_state_dict.pth")
    for name in ("torch_zip.pth", "torch_legacy.pth"):  # torch reads them back
        loaded = torch.load(HERE / "data" / name, weights_only=True)
        assert all(torch.equal(loaded[k], v) for k, v in state.items())
    print(torch.__version__, [f.stat().st_size for f in sorted((HERE / "data").glob("*.pth"))])


if __name__ == "__main__":
    main()
