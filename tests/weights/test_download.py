"""Downloads through keras.utils.get_file (its real code path, from file:// URLs made here):
the hash checked, nothing left in the cache on a mismatch, and the offline message."""

import dataclasses
import hashlib

import pytest

from conftest import closed_port
from kcnn.weights import (WeightsDownloadError, WeightsHashError, cache_path, catalogue,
                          download_weights, fetch_weights, find_weights, read_weights)
from weights.pth_writer import fixture_state, fixture_tensors, write_pth


@pytest.fixture
def published(tmp_path):
    """A locally made resnet18 file, "published" at a file:// URL."""
    server = tmp_path / "server"
    server.mkdir()
    path = server / "upload.pth"
    write_pth(path, fixture_state())
    return path


def _patched(monkeypatch, **changes):
    """The catalogue with resnet18's torchvision record changed."""
    real = find_weights("resnet18", "torchvision")
    record = dataclasses.replace(real, **changes)
    records = tuple(record if r is real else r for r in catalogue._records())
    monkeypatch.setattr(catalogue, "_records", lambda: records)
    return record


def test_right_sha256_prefix_downloads_once(tmp_path, monkeypatch, published):
    sha256 = hashlib.sha256(published.read_bytes()).hexdigest()
    record = _patched(monkeypatch, url=published.as_uri(), file_name=f"resnet18-{sha256[:8]}.pth",
                      file_hash=sha256[:8])
    root = tmp_path / "keras_home"
    path = fetch_weights("resnet18", "torchvision", root=root)
    assert path == str(root / "models" / record.file_name) == cache_path(record, root)
    assert read_weights(path).keys() == fixture_tensors().keys()
    published.unlink()  # in the cache now: no second download
    assert fetch_weights("resnet18", "torchvision", root=root) == path


def test_wrong_hash_raises_and_leaves_nothing_in_the_cache(tmp_path, monkeypatch, published):
    record = _patched(monkeypatch, url=published.as_uri(), file_hash="00000000")
    root = tmp_path / "keras_home"
    with pytest.raises(WeightsHashError, match=r"SHA-256 is [0-9a-f]{64}, the published one "
                                               r"SHA-256 starting with 00000000.*removed"):
        fetch_weights("resnet18", "torchvision", root=root)
    assert list((root / "models").iterdir()) == []
    # A wrong file in the cache is downloaded again (and still refused).
    (root / "models" / record.file_name).write_bytes(b"not the file")
    with pytest.raises(WeightsHashError):
        fetch_weights("resnet18", "torchvision", root=root)
    assert list((root / "models").iterdir()) == []


def test_partial_file_in_the_cache_is_downloaded_again(tmp_path, monkeypatch, published):
    sha256 = hashlib.sha256(published.read_bytes()).hexdigest()
    record = _patched(monkeypatch, url=published.as_uri(), file_hash=sha256[:8])
    root = tmp_path / "keras_home"
    (root / "models").mkdir(parents=True)
    partial = root / "models" / record.file_name
    partial.write_bytes(published.read_bytes()[:100])  # an interrupted download
    assert fetch_weights("resnet18", "torchvision", root=root) == str(partial)
    assert partial.read_bytes() == published.read_bytes()


def test_md5_checked_by_get_file(tmp_path, monkeypatch, published):
    md5 = hashlib.md5(published.read_bytes()).hexdigest()
    real = find_weights("vgg16", "keras")
    record = dataclasses.replace(real, url=published.as_uri(), file_hash=md5)
    root = tmp_path / "keras_home"
    assert download_weights(record, root=root) == cache_path(record, root)
    wrong = dataclasses.replace(record, file_name="other.h5", file_hash="0" * 32)
    with pytest.raises(WeightsHashError, match="MD5 is"):
        download_weights(wrong, root=root)
    assert [p.name for p in (root / "models").iterdir()] == [record.file_name]


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/resnet18-f37072fd.pth",
                                 "file:///nonexistent/resnet18-f37072fd.pth"])
def test_offline_says_what_to_download_and_where(tmp_path, monkeypatch, published, url):
    url = url.format(port=closed_port())  # connection refused at once
    _patched(monkeypatch, url=url)
    root = tmp_path / "keras_home"
    with pytest.raises(WeightsDownloadError) as error:
        fetch_weights("resnet18", "torchvision", root=root)
    message, target = str(error.value), root / "models" / "resnet18-f37072fd.pth"
    assert url in message and "resnet18-f37072fd.pth (SHA-256 starting with f37072fd)" in message
    assert f"put it at {target}" in message
    assert list((root / "models").iterdir()) == []
    # Done as the message says (here with a file whose hash the record is given), it loads.
    sha256 = hashlib.sha256(published.read_bytes()).hexdigest()
    _patched(monkeypatch, url=url, file_hash=sha256[:8])
    target.write_bytes(published.read_bytes())
    assert fetch_weights("resnet18", "torchvision", root=root) == str(target)


def test_default_cache_is_keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    record = find_weights("vgg19", "keras", include_top=False)
    assert cache_path(record) == str(tmp_path / "kh" / "models" / record.file_name)


def test_unknown_source_is_a_value_error():
    with pytest.raises(ValueError, match="Did you mean 'torchvision'"):
        fetch_weights("resnet18", "torchvison")
