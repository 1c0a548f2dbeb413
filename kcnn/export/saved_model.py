"""`export_saved_model`: versioned, atomic SavedModels for TF Serving.

Layout (what TF Serving polls): `base_dir/<version>/saved_model.pb`, `variables/`,
`assets.extra/tf_serving_warmup_requests` and `assets.extra/preprocessing.json`.
A version is written into a hidden temporary directory inside `base_dir` (a name TF
Serving ignores), completed, optionally verified, flushed to disk, and only then
renamed to its number: a numeric directory is always complete.
"""

import dataclasses
import errno
import os
import re
import shutil
import tempfile
import warnings

import keras

from kcnn.data.decode import MAX_PIXELS, check_max_pixels
from kcnn.export import signatures as sig
from kcnn.export.fold import fold_batch_norm
from kcnn.export.verify import verify_saved_model
from kcnn.export.warmup import write_warmup
from kcnn.models.heads import MODEL_OUTPUTS, inference_model
from kcnn.preprocessing import FILENAME, Preprocessing

TMP_PREFIX = ".tmp-kcnn-export-"
_TMP_RE = re.compile(re.escape(TMP_PREFIX) + r"(\d+)-")
PREPROCESSING_FILE = os.path.join("assets.extra", FILENAME)
MAX_VERSION = 2**63 - 1  # TF Serving's version numbers are int64


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What `export_saved_model` wrote.

    Attributes:
        path: str. The version directory, `base_dir/<version>`.
        version: int. The version number.
        applies_softmax: bool. Whether the signatures apply softmax to the model output.
        verification: dict or None. `verify_saved_model`'s report when `verify=True`.
    """
    path: str
    version: int
    applies_softmax: bool
    verification: dict | None = None


def check_version(version):
    """`version` is None or an int in TF Serving's int64 range (every format's check)."""
    if version is not None and (not _is_int(version) or not 0 <= version <= MAX_VERSION):
        raise ValueError(f"`version` must be an int >= 0 and <= 2**63 - 1 (TF Serving's "
                         f"versions are int64) or None; got version={version!r}.")


def classifier_destination(model, preprocessing, base_dir, version):
    """The checks every export format makes before writing: the model's inference head
    outputs (batch, classes), the preprocessing resolves against it, and `base_dir` (an
    absolute path) is writable with `version` not taken.

    Returns:
        `(head, preprocessing)`: the single-output inference model and the contract.
    """
    head = inference_model(model)
    if len(head.output_shape) != 2:
        raise ValueError(f"Model {model.name!r} must output (batch, classes); its output "
                         f"shape is {head.output_shape}.")
    preprocessing = Preprocessing.resolve(preprocessing, head)
    _check_writable(base_dir)
    if version is not None:
        _check_free(base_dir, version)
    return head, preprocessing


def export_saved_model(model, base_dir, version=None, preprocessing=None, *, top_k=5,
                       model_outputs="auto", model_name=None, warmup=True, verify=False,
                       fold_bn=True, max_pixels=MAX_PIXELS):
    """Exports `model` as `base_dir/<version>/`, a SavedModel TF Serving can serve.

    The SavedModel has two signatures (see `kcnn.export.signatures`):
    `serving_default` takes a batch of encoded images (`image_bytes`, string) and
    `predict_images` a batch of float pixel arrays in [0, 255] (`images`); both resize
    and normalize in the graph and return `probabilities`, `top_k_scores`,
    `top_k_indices` and, when class names are known, `top_k_class_names`. Loading it
    needs TensorFlow only. Only the output named `"predictions"` of a model with
    auxiliary heads is exported.

    Nothing is written until every argument has been checked. The version is written
    into a temporary sibling directory and renamed into place only when complete (and
    verified, with `verify=True`); an existing non-empty version is never overwritten.

    Args:
        model: a built `keras.Model` taking (batch, height, width, channels) images.
        base_dir: str or path. The model's base directory (created if needed).
        version: int in [0, 2**63 - 1] (TF Serving's versions are int64) or None. `None`
            takes one more than the highest existing version, or 1; a number held by a
            file rather than a version folder is skipped, with a warning. Defaults to
            `None`.
        preprocessing: a `kcnn.preprocessing.Preprocessing` (as a training run's
            `preprocessing.json`: `Preprocessing.load(run_dir)`), a dict in that file's
            schema, or `None` for `Preprocessing.default_for(model)`: the model's input
            size, pixels scaled by 1/255, mean 0, std 1, no class names. Defaults to
            `None`.
        top_k: int >= 1. Classes returned by the top-k outputs (at most the number of
            classes). Defaults to 5.
        model_outputs: "auto", "logits" or "probabilities". What the model outputs;
            "auto" means probabilities exactly when its output ends in a softmax, so the
            signatures apply softmax to anything else. Defaults to `"auto"`.
        model_name: str or None. The model name in the warm-up requests; defaults to
            the base directory's name (TF Serving's `--model_name` usually matches it).
        warmup: bool. Write `assets.extra/tf_serving_warmup_requests`. Defaults to True.
        verify: bool. Run `verify_saved_model` before the version is renamed into
            place; on failure nothing is left behind. Defaults to `False`.
        fold_bn: bool. Fold every BatchNormalization into the convolution before it
            (`kcnn.export.fold.fold_batch_norm`) in the exported graph: the same function
            in inference mode, fewer operations (batch-1 latency: ResNet-50 29.9 → 24.9 ms,
            ResNet-20 1.87 → 1.42 ms, benchmarks/results/fold-bn-latency-*.json). Verification
            compares the folded SavedModel with the unfolded Keras model. Defaults to `True`.
        max_pixels: int >= 1. `serving_default` reads each image's width and height from
            its header and refuses one of more than `max_pixels` pixels with an
            InvalidArgument error before decoding it (a decompression bomb: a 500 KB PNG can
            declare 23000×23000 pixels). Defaults to `kcnn.data.decode.MAX_PIXELS`, 100
            million (10000×10000).

    Returns:
        An `ExportResult`.

    Raises:
        ValueError: for bad arguments or a Keras backend other than TensorFlow.
        FileExistsError: if `base_dir/<version>` exists and is not empty.
        NotADirectoryError, PermissionError: if `base_dir` cannot be written.
        kcnn.export.VerificationError: if `verify=True` and the check fails.

    Example:
    >>> model = kcnn.models.lenet5()
    >>> export_saved_model(model, "/tmp/serving/lenet5").path
    '/tmp/serving/lenet5/1'
    """
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "export_saved_model needs the TensorFlow backend (KERAS_BACKEND=tensorflow); "
            f"the current backend is {keras.backend.backend()!r}. Save the model as "
            "`.keras` and export it from a TensorFlow-backend process (`kcnn export`)."
        )
    if not isinstance(model, keras.Model) or not model.built or not model.inputs:
        raise ValueError(f"`model` must be a built functional keras.Model; got {model!r}.")
    if model_outputs not in MODEL_OUTPUTS:
        raise ValueError(f"`model_outputs` must be one of {MODEL_OUTPUTS}; got "
                         f"model_outputs={model_outputs!r}.")
    if not _is_int(top_k) or top_k < 1:
        raise ValueError(f"`top_k` must be an int >= 1; got top_k={top_k!r}.")
    check_version(version)
    check_max_pixels(max_pixels)
    base_dir = os.path.abspath(os.fspath(base_dir))
    if model_name is None:
        model_name = os.path.basename(base_dir)
    if not isinstance(model_name, str) or not model_name:
        raise ValueError(f"`model_name` must be a non-empty string; got {model_name!r}.")
    head, preprocessing = classifier_destination(model, preprocessing, base_dir, version)

    def write(tmp):
        archive = keras.export.ExportArchive()
        served = fold_batch_norm(head) if fold_bn and has_batch_norm(head) else head
        applies_softmax = sig.add_signatures(archive, served, preprocessing, top_k=top_k,
                                             model_outputs=model_outputs,
                                             max_pixels=max_pixels)
        archive.write_out(tmp, verbose=False)
        if warmup:
            write_warmup(tmp, model_name, preprocessing.image_size,
                         preprocessing.channels)
        preprocessing.save(os.path.join(tmp, os.path.dirname(PREPROCESSING_FILE)))
        report = (verify_saved_model(tmp, head, preprocessing, top_k=top_k,
                                     model_outputs=model_outputs) if verify else None)
        return applies_softmax, report

    version, (applies_softmax, report) = write_version(base_dir, version, write)
    return ExportResult(os.path.join(base_dir, str(version)), version, applies_softmax,
                        report)


def write_version(base_dir, version, write):
    """Writes one version of `base_dir` atomically: `write(tmp)` fills a hidden temporary
    folder inside `base_dir` (and may verify it); it is flushed to disk and only then
    renamed to its number (`version`, or the next free one when None). If `write` raises,
    the temporary folder is removed and `base_dir` is left as it was.

    Returns:
        (version, what `write` returned).
    """
    os.makedirs(base_dir, exist_ok=True)
    _remove_stale_tmp(base_dir)
    tmp = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=base_dir)
    try:
        os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide the version from a server user
        written = write(tmp)
        _fsync_tree(tmp)
        version = _rename_into_place(tmp, base_dir, version)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return version, written


def has_batch_norm(model):
    """Whether `model` has a BatchNormalization layer at any depth."""
    return any(isinstance(layer, keras.layers.BatchNormalization)
               for layer in model._flatten_layers(include_self=False, recursive=True))


def existing_versions(base_dir):
    """The version numbers present in `base_dir` (numeric directory names)."""
    if not os.path.isdir(base_dir):
        return []
    return sorted(int(n) for n in os.listdir(base_dir)
                  if n.isascii() and n.isdigit() and os.path.isdir(os.path.join(base_dir, n)))


def _check_writable(base_dir):
    path = base_dir
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    if not os.path.isdir(path):
        raise NotADirectoryError(
            f"Cannot export to base_dir={base_dir!r}: {path!r} is a file, not a folder.")
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(
            f"Cannot export to base_dir={base_dir!r}: folder {path!r} is not writable.")


def _check_free(base_dir, version):
    for n in (os.listdir(base_dir) if os.path.isdir(base_dir) else []):
        path = os.path.join(base_dir, n)
        if n.isascii() and n.isdigit() and int(n) == version and not os.path.isdir(path):
            raise FileExistsError(
                f"Version {version} is taken by {path!r}, which is not a folder; it is not "
                "overwritten. Choose another `version` or leave it out to take the next free "
                "number.")
        if n.isascii() and n.isdigit() and int(n) == version and os.listdir(path):
            raise FileExistsError(
                f"Version {version} already exists at {path!r} and is not empty; "
                "versions are never overwritten. Choose another `version` or leave it "
                "out to take the next free number.")


def _rename_into_place(tmp, base_dir, version):
    auto = version is None
    skipped = set()

    def target_of(v):
        return os.path.join(base_dir, str(v))

    for _ in range(100):
        if auto:
            version = max(existing_versions(base_dir), default=0) + 1
            while version in skipped or _not_a_version_folder(base_dir, version):
                if version not in skipped:
                    skipped.add(version)
                    warnings.warn(f"Skipping version {version}: {target_of(version)!r} is "
                                  "not a folder (TF Serving ignores it too).", stacklevel=3)
                version += 1
        target = os.path.join(base_dir, str(version))
        try:
            os.rename(tmp, target)  # atomic; fails on a non-empty target
        except OSError as e:
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                raise
            if not auto:
                raise FileExistsError(
                    f"Version {version} appeared at {target!r} during the export; it was "
                    "not overwritten.") from e
            continue  # another export took this number: take the next one
        _fsync_dir(base_dir)
        return version
    raise FileExistsError(f"Could not find a free version number in {base_dir!r}.")


def _not_a_version_folder(base_dir, version):
    path = os.path.join(base_dir, str(version))
    return os.path.lexists(path) and not os.path.isdir(path)


def _remove_stale_tmp(base_dir):
    """Removes temporary directories left by exports whose process no longer runs."""
    for n in os.listdir(base_dir):
        m = _TMP_RE.match(n)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            shutil.rmtree(os.path.join(base_dir, n), ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_tree(root):
    for dirpath, _, filenames in os.walk(root):
        for n in filenames:
            fd = os.open(os.path.join(dirpath, n), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(dirpath)


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)
