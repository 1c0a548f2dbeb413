"""TFDS through its real code (no mock): a dataset prepared here is read back exactly, and a
dataset that is neither prepared nor downloadable fails within seconds, saying what works."""

import hashlib
import http.server
import io
import os
import re
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import tfds_cases
from conftest import closed_port

from kcnn.cli import main
from kcnn.data import DatasetUnavailableError, load_source, prepare_tfds, smoke_data
from kcnn.data.tfds_prepare import _unreachable_host


def kcnn_command():
    """The installed `kcnn` console script (as a user runs it), else `python -m kcnn.cli`."""
    script = os.path.join(os.path.dirname(sys.executable), "kcnn")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "kcnn.cli"]


def assert_same_examples(source, images, labels):
    """`source` holds exactly (images, labels), in any order."""
    got = np.argsort([image.tobytes() for image in source.images])
    order = np.argsort([image.tobytes() for image in images])
    np.testing.assert_array_equal(source.images[got], images[order])
    np.testing.assert_array_equal(source.labels[got], labels[order])


def test_prepared_dataset_reads_back_the_generated_images(tiny_tfds):
    source = load_source(tfds_cases.NAME, "train", data_dir=tiny_tfds)
    assert source.class_names == tfds_cases.CLASS_NAMES and source.num_classes == 3
    assert source.num_examples == 96 and source.channels == 3 and source.stream is None
    # The same draws, made here: PNG is lossless, so the pixels are identical.
    assert_same_examples(source, *tfds_cases.fixed_train_split())
    gray = load_source(tfds_cases.NAME, "test", data_dir=tiny_tfds, channels=1)
    assert gray.images.shape == (15, 32, 32, 1)


def test_variable_size_dataset_is_streamed(tiny_tfds):
    source = load_source(f"{tfds_cases.NAME}/varied", "validation", data_dir=tiny_tfds)
    assert source.images is None and source.num_examples == 15
    shapes = {tuple(x.shape) for x, _ in source.stream}
    assert len(shapes) > 1 and all(24 <= h <= 48 and c == 3 for h, _, c in shapes)


def test_prepare_command_on_a_prepared_dataset_says_how_to_copy(tiny_tfds, capsys):
    assert main(["prepare", tfds_cases.NAME, "--data-dir", tiny_tfds]) == 0
    out = capsys.readouterr().out
    assert f"{tfds_cases.NAME}/fixed/1.0.0 is prepared in {tiny_tfds}" in out
    assert "train: 96" in out and os.path.join(tiny_tfds, tfds_cases.NAME) in out
    assert "TFDS_DATA_DIR" in out


def test_unknown_dataset_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match=r"Unknown dataset='no_such_dataset_kcnn'"):
        load_source("no_such_dataset_kcnn", "train", data_dir=str(tmp_path))


def test_offline_kcnn_train_fails_fast_with_the_remedy(offline_env):
    """Acceptance: `kcnn train --dataset mnist` offline with an empty data folder."""
    start = time.perf_counter()
    proc = subprocess.run([*kcnn_command(), "train", "--dataset", "mnist"], env=offline_env,
                          capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - start
    print(f"offline kcnn train --dataset mnist: exit {proc.returncode} in {seconds:.1f} s")
    empty = offline_env["TFDS_DATA_DIR"]
    assert proc.returncode == 2 and seconds < 30, proc.stderr
    assert "Traceback" not in proc.stderr and "Retrying" not in proc.stderr
    # One line beside TensorFlow's own start-up log (C++ lines such as "I0000 00:00...").
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not re.match(
        r"[IWE]\d{4} |WARNING: All log messages before absl", line)]
    assert len(lines) == 1, proc.stderr
    message = lines[0]
    assert message.startswith(f"kcnn train: error: TFDS dataset 'mnist' is not prepared in "
                              f"{empty} and cannot be downloaded here "
                              f"(storage.googleapis.com is unreachable")
    for remedy in ("`kcnn prepare mnist --data-dir DIR`", "copy DIR/mnist into", "--data-dir",
                   "TFDS_DATA_DIR", "--dataset digits", "--dataset folder:PATH"):
        assert remedy in message
    assert os.listdir(empty) == []  # nothing half-written
    # docs/training.md shows this message (its folder: the default, as root; no network).
    doc = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "training.md"),
               encoding="utf-8").read()
    (shown,) = [line for line in doc.splitlines() if line.startswith("kcnn train: error:")]
    same = [re.sub(r"unreachable: \w+", "unreachable", m) for m in (
        shown.replace("/root/tensorflow_datasets", empty), message)]
    assert same[0] == same[1]


def test_manual_download_dataset_names_the_manual_folder(tmp_path):
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailableError) as info:
        prepare_tfds("imagenet2012", data_dir=str(tmp_path))
    assert time.perf_counter() - start < 10
    message = str(info.value)
    manual = os.path.join(str(tmp_path), "downloads", "manual")
    assert f"Put them in {manual} and run `kcnn prepare imagenet2012 --data-dir {tmp_path}`" \
        in message
    assert "ILSVRC2012_img_train.tar" in message and "\n" not in message


class _Server(http.server.BaseHTTPRequestHandler):
    status, body, requests = 200, b"", None

    def do_HEAD(self):  # noqa: N802 -- http.server's names
        self.requests.append(("HEAD", self.path))
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()

    def do_GET(self):  # noqa: N802
        self.requests.append(("GET", self.path))
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def _serve(status, body=b""):
    handler = type("Handler", (_Server,), {"status": status, "body": body, "requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    server.requests = handler.requests
    return server, f"127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def direct_local_http(monkeypatch):
    """Requests to 127.0.0.1 go straight to it, whatever proxies the environment names."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")


def test_a_downloadable_dataset_is_probed_downloaded_and_prepared(tmp_path, monkeypatch,
                                                                 direct_local_http):
    """What `kcnn train --dataset NAME` does online: TFDS's real downloader (checksum
    checked) and preparation, after one HEAD request of the probe."""
    import tensorflow_datasets as tfds

    images, labels = tfds_cases.fixed_train_split()
    buffer = io.BytesIO()
    np.savez(buffer, images=images, labels=labels)
    body = buffer.getvalue()
    server, host = _serve(200, body)
    url = f"http://{host}/tiny.npz"
    info = tfds.core.download.checksums.UrlInfo(
        size=len(body), checksum=hashlib.sha256(body).hexdigest(), filename="tiny.npz")
    monkeypatch.setattr(tfds_cases.KcnnTinyDownload, "url_infos", {url: info})
    try:
        source = load_source("kcnn_tiny_download", "train", data_dir=str(tmp_path))
    finally:
        server.shutdown()
    assert server.requests == [("HEAD", "/tiny.npz"), ("GET", "/tiny.npz")]
    assert_same_examples(source, images, labels)
    assert source.class_names == tfds_cases.CLASS_NAMES


def test_probe_of_the_download_host(direct_local_http):
    ok, ok_host = _serve(200)
    busy, busy_host = _serve(503)  # TFDS would retry it ten times
    silent = socket.socket()  # accepts connections, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    silent_host = f"127.0.0.1:{silent.getsockname()[1]}"
    refused_host = f"127.0.0.1:{closed_port()}"
    try:
        start = time.perf_counter()
        assert _unreachable_host([f"http://{ok_host}/a.gz", f"http://{ok_host}/b.gz",
                                  "ftp://example.invalid/c"], timeout=1) == (None, None)
        assert _unreachable_host([f"http://{busy_host}/a"], timeout=1) == (busy_host,
                                                                          "answers 503")
        assert _unreachable_host([f"http://{refused_host}/a"], timeout=1) == (
            refused_host, "is unreachable: ConnectionError")
        host, reason = _unreachable_host([f"http://{ok_host}/a", f"http://{silent_host}/a"],
                                         timeout=1)
        assert host == silent_host and "Timeout" in reason
        assert time.perf_counter() - start < 6
    finally:
        for server in (ok, busy):
            server.shutdown()
        silent.close()


def test_smoke_data_mocks_only_what_is_not_prepared(tiny_tfds, tmp_path, capsys):
    with smoke_data(tfds_cases.NAME, tiny_tfds):
        real = load_source(tfds_cases.NAME, "test", data_dir=tiny_tfds)
    assert f"--smoke: on {tfds_cases.NAME} as prepared in {tiny_tfds}." in capsys.readouterr().out
    assert real.num_examples == 15
    with smoke_data("mnist", str(tmp_path)):  # no download is attempted
        mock = load_source("mnist", "train", data_dir=str(tmp_path))
    out = capsys.readouterr().out
    assert f"--smoke: mnist is not prepared in {tmp_path}; on TFDS mock data instead" in out
    assert mock.num_examples == 12 and mock.images.shape == (12, 28, 28, 1)
    assert mock.num_classes == 10 and os.listdir(tmp_path) == []
