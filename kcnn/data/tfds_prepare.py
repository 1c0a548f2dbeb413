"""TFDS datasets: use a prepared one, prepare a missing one, or say at once why it cannot be.

A TFDS dataset must be *prepared* (downloaded and written as TFRecords) in a data folder
before it can be read. `prepare_tfds` does what `tfds.load` does, and one thing more: when
the dataset is not prepared and its download host does not answer within a few seconds
(no network), it raises `DatasetUnavailableError` with the remedy instead of letting TFDS
retry each file for minutes.
"""

import os
import threading
import time
import urllib.parse

# How long the download host may take to answer before the machine counts as offline.
PROBE_SECONDS = 5.0
# TFDS's downloader retries these statuses ten times with back-off (minutes in all).
_RETRIED_STATUSES = (500, 502, 503, 504)


class DatasetUnavailableError(ValueError):
    """A TFDS dataset is not prepared in its data folder and cannot be prepared here."""


def prepare_command(name, data_dir="DIR"):
    """The command that prepares TFDS dataset `name` into `data_dir`."""
    return f"kcnn prepare {name} --data-dir {data_dir}"


def tfds_builder(name, data_dir=None):
    """`tfds.builder(name, data_dir=data_dir)`, with an unknown name as a `ValueError`.

    A dataset prepared in `data_dir` is found even when its builder code is not
    importable here (TFDS reads its `dataset_info.json`).
    """
    import tensorflow_datasets as tfds
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as e:
        raise ValueError(f"Unknown dataset={name!r}: not 'digits', an existing folder, a "
                         f"TFDS name or a dataset prepared in data_dir={data_dir!r} "
                         f"({str(e).strip().splitlines()[0]}).") from e


def is_prepared(builder):
    """Whether `builder`'s dataset is prepared in its data folder."""
    import tensorflow as tf
    # builder.is_prepared() alone also logs a warning when the folder does not exist.
    return tf.io.gfile.exists(builder.data_dir) and builder.is_prepared()


def prepare_tfds(name, data_dir=None):
    """Returns the builder of TFDS dataset `name`, downloading and preparing it if needed.

    Args:
        name: str. A TFDS name (`"mnist"`, `"cifar10"`, `"imagenet2012"`, `"name/config"`).
        data_dir: str or None. The TFDS data folder. Defaults to `$TFDS_DATA_DIR` or
            `~/tensorflow_datasets`.

    Returns:
        A prepared `tfds.core.DatasetBuilder`.

    Raises:
        ValueError: `name` is not a TFDS dataset.
        DatasetUnavailableError: the dataset is not prepared and cannot be here: its
            download host does not answer within `PROBE_SECONDS` (offline), its files must
            be downloaded by hand and are not in `<data_dir>/downloads/manual`, or the
            download failed. The message names the folder and the remedy.
    """
    builder = tfds_builder(name, data_dir)
    if is_prepared(builder):
        return builder
    root = os.fspath(builder.data_dir_root)
    if builder.MANUAL_DOWNLOAD_INSTRUCTIONS:
        _check_manual_files(builder, name, root)
    else:
        urls = sorted(builder.url_infos or ())  # from the builder's checksums file
        host, reason = _unreachable_host(urls)
        if host:
            raise DatasetUnavailableError(
                f"TFDS dataset {name!r} is not prepared in {root} and cannot be downloaded "
                f"here ({host} {reason}). {_remedy(name, root)}")
    try:
        builder.download_and_prepare()
    except Exception as e:  # noqa: BLE001 -- TFDS raises many kinds; the cause is chained
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DatasetUnavailableError(
            f"Could not prepare TFDS dataset {name!r} in {root}: {first}. "
            f"{_remedy(name, root)}") from e
    return builder


def _remedy(name, root):
    folder = name.split("/")[0]
    return (f"On a machine with network run `{prepare_command(name)}`, then copy "
            f"DIR/{folder} into {root} here (or pass --data-dir, or set TFDS_DATA_DIR, to "
            f"the folder that holds it); or train on --dataset digits or --dataset "
            f"folder:PATH, which need no network.")


def _check_manual_files(builder, name, root):
    import tensorflow as tf
    manual = os.path.join(root, "downloads", "manual")
    if tf.io.gfile.exists(manual) and tf.io.gfile.listdir(manual):
        return
    instructions = " ".join(builder.MANUAL_DOWNLOAD_INSTRUCTIONS.split())
    raise DatasetUnavailableError(
        f"TFDS dataset {name!r} is not prepared in {root}, and TFDS cannot download it: its "
        f"files must be downloaded by hand ({instructions}). Put them in {manual} and run "
        f"`{prepare_command(name, root)}`, or copy a prepared {name.split('/')[0]} folder "
        f"into {root}.")


def _unreachable_host(urls, timeout=PROBE_SECONDS):
    """(host, reason) for the first host of `urls` that gives no usable HTTP answer within
    `timeout` seconds, else (None, None). One HEAD request per host, in parallel, through
    the proxies of the environment as TFDS's downloader; other schemes are not probed."""
    import requests
    first_url = {}
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc:
            first_url.setdefault(parts.netloc, url)
    reasons = {}

    def probe(host, url):
        try:
            status = requests.head(url, timeout=timeout, allow_redirects=False).status_code
            reasons[host] = f"answers {status}" if status in _RETRIED_STATUSES else None
        except requests.RequestException as e:
            reasons[host] = f"is unreachable: {type(e).__name__}"

    threads = [threading.Thread(target=probe, args=item, daemon=True)
               for item in first_url.items()]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout + 1.0  # DNS look-ups ignore requests' timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    for host in first_url:
        reason = reasons.get(host, f"did not answer within {timeout:g} s")
        if reason:
            return host, reason
    return None, None
