"""Downloads of catalogued weight files into Keras's cache, their hashes checked.

Files go where `keras.utils.get_file` keeps keras.applications' weights:
`$KERAS_HOME/models/` (default `~/.keras/models/`; `/tmp/.keras/models/` where that is
not writable, as Keras does), under the published file name. A file already there is
used without a download, once its hash matches; so a file downloaded by hand is put
there. A cached file whose hash does not match is downloaded again; a downloaded one that
does not match is removed, never left in the cache.

Example:
>>> path = kcnn.weights.fetch_weights("resnet18", "torchvision")
>>> os.path.basename(path)
'resnet18-f37072fd.pth'
"""

import hashlib
import os

from kcnn.weights import catalogue

CACHE_SUBDIR = "models"


class WeightsDownloadError(OSError):
    """A weight file that could not be downloaded; says what to download and where."""


class WeightsHashError(ValueError):
    """A weight file whose hash does not match the catalogue's (it has been removed)."""


def cache_dir(root=None):
    """The folder of cached weight files, as `keras.utils.get_file` resolves it.

    Args:
        root: str or None. Keras's cache root; `None` is `$KERAS_HOME`, else `~/.keras`
            (`/tmp/.keras` where that is not writable). Defaults to `None`.

    Returns:
        The absolute path of `<root>/models`.
    """
    if root is None:
        root = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    root = os.path.expanduser(os.fspath(root))
    try:
        os.makedirs(root, exist_ok=True)
    except OSError:
        pass
    if not os.access(root, os.W_OK):  # get_file's own fallback
        root = os.path.join("/tmp", ".keras")
    return os.path.abspath(os.path.join(root, CACHE_SUBDIR))


def cache_path(record, root=None):
    """Where `record`'s file is, or would be, cached (see `cache_dir`)."""
    return os.path.join(cache_dir(root), record.file_name)


def describe_hash(record):
    """The published hash in words, e.g. "SHA-256 starting with f37072fd"."""
    if record.hash_algorithm == "sha256_prefix":
        return f"SHA-256 starting with {record.file_hash}"
    return f"{record.hash_algorithm.upper()} {record.file_hash}"


def file_hash(path, algorithm):
    """The hex digest of a file: `algorithm` "sha256" (also for "sha256_prefix") or "md5"."""
    hasher = hashlib.md5() if algorithm == "md5" else hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def _matches(digest, record):
    if record.hash_algorithm == "sha256_prefix":
        return digest.startswith(record.file_hash)
    return digest == record.file_hash


def check_hash(path, record):
    """Raises `WeightsHashError` (after removing the file) if `path` is not `record`'s file.

    torchvision publishes a SHA-256 prefix, keras.applications a whole MD5: each is
    compared with the file's digest of that algorithm.
    """
    digest = file_hash(path, record.hash_algorithm)
    if _matches(digest, record):
        return
    os.remove(path)
    raise WeightsHashError(
        f"{path}: not the published {record.file_name} ({record.url}): its "
        f"{'SHA-256' if record.hash_algorithm == 'sha256_prefix' else 'MD5'} is {digest}, "
        f"the published one {describe_hash(record)}. The file has been removed from the "
        "cache; download it again.")


def download_weights(record, *, root=None):
    """The local path of `record`'s file, downloaded with `keras.utils.get_file` if needed.

    Args:
        record: `kcnn.weights.WeightsRecord`. The file (see `find_weights`).
        root: str or None. Keras's cache root (see `cache_dir`). Defaults to `None`.

    Returns:
        The path of the file in the cache, its hash checked.

    Raises:
        WeightsDownloadError: (an OSError) if the download fails (offline, say); the
            message names the URL, the file name and its hash, and the exact path to
            put a file downloaded by hand.
        WeightsHashError: (a ValueError) if the downloaded file's hash does not match;
            the file is removed from the cache. (A cached file that does not match, a
            partial download say, is downloaded again.)
    """
    from keras.utils import get_file

    target = cache_path(record, root)
    md5 = record.hash_algorithm == "md5"
    if not md5 and os.path.exists(target):  # (get_file checks a cached file's MD5 itself)
        if _matches(file_hash(target, record.hash_algorithm), record):
            return target
        os.remove(target)  # a partial or other file: downloaded again, as get_file does
    try:
        path = get_file(fname=record.file_name, origin=record.url,
                        cache_subdir=CACHE_SUBDIR, cache_dir=os.path.dirname(cache_dir(root)),
                        file_hash=record.file_hash if md5 else None)
    except ValueError:  # get_file's MD5 mismatch after a download: check_hash says why
        if os.path.exists(target):
            check_hash(target, record)
        raise
    except Exception as error:  # get_file wraps URL errors in a plain Exception
        if os.path.exists(target):
            os.remove(target)
        raise WeightsDownloadError(
            f"Could not download the {record.source} weights of {record.model} "
            f"({record.tag}): {error}\n"
            f"  URL:  {record.url}\n"
            f"  file: {record.file_name} ({describe_hash(record)})\n"
            f"Download it by hand and put it at {target}; kcnn checks its hash there and "
            "does not download it again.") from error
    if not md5:  # get_file checked the MD5; torchvision's prefix is checked here
        check_hash(path, record)
    return path


def fetch_weights(model, source, *, tag=None, include_top=True, root=None):
    """The local path of the published weights of `model` from `source`.

    Args:
        model: str. A kcnn model name ("resnet50").
        source: str. "torchvision" or "keras".
        tag: str or None. The source's tag ("IMAGENET1K_V1"); `None` is the default
            weights. Defaults to `None`.
        include_top: bool. keras only, without `tag`: the file with the dense layers.
            Defaults to `True`.
        root: str or None. Keras's cache root (see `cache_dir`). Defaults to `None`.

    Returns:
        The path of the file in Keras's cache, its hash checked.

    Raises:
        ValueError: for an unknown source, model or tag (close names suggested).
        WeightsDownloadError, WeightsHashError: as `download_weights`.
    """
    record = catalogue.find_weights(model, source, tag=tag, include_top=include_top)
    return download_weights(record, root=root)
