"""TrainConfig: every training setting, declared once."""

import dataclasses
import functools
import json
import math
import typing
import warnings

from kcnn.io import atomic_write_text

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "piecewise", "cosine")
WARMUPS = ("linear", "constant")
STRATEGIES = ("auto", "mirrored", "multi_worker", "one_device")
FILENAME = "config.json"
# Old field names → new ones. Saved config.json files (and checkpoints), `--set` and
# `TrainConfig(...)` still accept the old names, with a `RenamedFieldWarning`.
RENAMED = {"steps_per_epoch": "max_steps_per_epoch", "eval_steps": "max_eval_steps"}


class RenamedFieldWarning(DeprecationWarning):
    """A TrainConfig field was given by its old name (see `RENAMED`)."""


@dataclasses.dataclass
class TrainConfig:
    """One training run. The defaults are the offline quickstart (LeNet-5 on digits).

    Args:
        model: str. A name from `kcnn.models.list_models()`.
        model_kwargs: dict. Extra builder arguments (`batch_norm`, `aux_logits`, ...).
        weights: str or None. Start from published weights: a source ("torchvision",
            "keras", "torchvision:TAG") or a weights file's path, as the builders'
            `weights=` (fine-tuning: the body is loaded, the head is new for the
            dataset's classes). The preprocessing (scale, mean, std, crop, channel
            order) is then the weights' (`mean`/`std` must be None or equal to it), and
            `image_size` defaults to the weights' crop. None: random initialization.
        freeze_body: bool. With `weights`: train only the new head (the layers named
            "predictions", and googlenet's "aux1"/"aux2"); the body's weights and
            BatchNorm statistics stay as loaded. Defaults to False (the body trains too).
        dataset: str. `"digits"` (offline), a TFDS name, or `"folder:PATH"`.
        data_dir: str or None. TFDS data folder.
        train_split, eval_split: str. Splits to train on and to report on.
        image_size: [H, W] or None. The model's input size; None: the builder's default.
        channels: int or None. 1 or 3; None: the builder's default.
        on_error: "skip" or "raise". Unreadable images in a folder dataset.
        max_pixels: int. A folder image whose header declares more pixels (width × height)
            is not decoded: unreadable, so skipped or an error per `on_error`
            (`kcnn.data.MAX_PIXELS`, 100,000,000, by default; `--set max_pixels=N`).
        augment: str. One of `kcnn.data.AUGMENTATIONS`, training only.
        scale, mean, std: the preprocessing contract (`preprocessing.json`); mean and std
            None: measured per channel on (up to 10,000 images of) the training split.
        shuffle_buffer: int. Shuffle buffer of streamed (large) TFDS splits.
        epochs: int. Training epochs.
        global_batch_size: int. Examples per step over all replicas.
        max_steps_per_epoch: int or None. A cap: at most this many steps per epoch (smoke
            runs); None: the full epoch (every full batch of the training split).
        max_eval_steps: int or None. A cap: at most this many evaluation batches (smoke
            runs); None: the whole evaluation split.
        optimizer: "sgd", "adam", "adamw" or "rmsprop".
        lr: float. Peak learning rate. momentum, nesterov: SGD's.
        lr_schedule: "constant"; "step" (× `lr_decay` every `lr_decay_epochs`);
            "piecewise" (× `lr_decay` at each epoch in `lr_boundaries`); "cosine" (to 0).
        warmup_epochs: float. Warm-up length; `warmup` "linear" (from `warmup_lr` to `lr`)
            or "constant" (hold `warmup_lr`, as ResNet-110).
        weight_decay: float. L2 penalty `wd/2·‖w‖²` on kernels, coupled with the gradient
            as in the papers (Caffe/PyTorch SGD); 0 for none.
        label_smoothing: float in [0, 1).
        aux_loss_weight: float. Weight of each auxiliary head's loss (GoogLeNet: 0.3).
        mixed_precision: bool. float16 compute on GPU (bfloat16 on CPU), float32 weights.
        xla: bool. Compiles the forward and backward pass with XLA.
        strategy: "auto", "mirrored", "multi_worker" (`TF_CONFIG`) or "one_device".
        devices: list of str or None. Devices of "mirrored" / "one_device".
        sync_batch_norm: bool. Batch statistics over all replicas.
        seed: int. Fixes initialization, data order and augmentation.
        deterministic: bool. `tf.config.experimental.enable_op_determinism()`.
        output_dir: str. Where the model, checkpoints, logs and curves go.
        checkpoint_every: int. Also checkpoint every this many steps (0: epoch ends only).
        keep_checkpoints: int. Checkpoints kept.
        validate: bool. Evaluate on `eval_split` after every epoch (else only at the end).
        verbose: int. 0 silent, 1 progress bar (one line per epoch where standard output
            is not a terminal: a log file), 2 one line per epoch.
    """

    model: str = "lenet5"
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    weights: typing.Optional[str] = None
    freeze_body: bool = False
    dataset: str = "digits"
    data_dir: typing.Optional[str] = None
    train_split: str = "train"
    eval_split: str = "test"
    image_size: typing.Optional[list] = None
    channels: typing.Optional[int] = None
    on_error: str = "skip"
    max_pixels: int = 100_000_000
    augment: str = "shift"
    scale: float = 1.0 / 255.0
    mean: typing.Optional[list] = None
    std: typing.Optional[list] = None
    shuffle_buffer: int = 10_000
    epochs: int = 40
    global_batch_size: int = 32
    max_steps_per_epoch: typing.Optional[int] = None
    max_eval_steps: typing.Optional[int] = None
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = False
    lr_schedule: str = "cosine"
    lr_boundaries: list = dataclasses.field(default_factory=list)
    lr_decay: float = 0.1
    lr_decay_epochs: float = 0.0
    warmup_epochs: float = 0.0
    warmup: str = "linear"
    warmup_lr: float = 0.0
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    aux_loss_weight: float = 0.3
    mixed_precision: bool = False
    xla: bool = False
    strategy: str = "auto"
    devices: typing.Optional[list] = None
    sync_batch_norm: bool = False
    seed: int = 0
    deterministic: bool = True
    output_dir: str = "runs/quickstart"
    checkpoint_every: int = 0
    keep_checkpoints: int = 2
    validate: bool = True
    verbose: int = 1

    def __post_init__(self):
        self.validate_values()

    def validate_values(self):
        """Raises `ValueError` naming the first field with a bad value."""
        def bad(name, expected):
            raise ValueError(f"TrainConfig: `{name}` must be {expected}; got "
                             f"{name}={getattr(self, name)!r}.")

        def positive_int(name, allow_none=False, allow_zero=False):
            v = getattr(self, name)
            if v is None and allow_none:
                return
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if allow_zero else 1):
                bad(name, "an int >= " + ("0" if allow_zero else "1")
                    + (" or None" if allow_none else ""))

        def number(name, lo=0.0, hi=math.inf, hi_open=False):
            v = getattr(self, name)
            if (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                    or v < lo or v > hi or (hi_open and v == hi)):
                bad(name, f"a number in [{lo}, {hi}{')' if hi_open else ']'}")

        def choice(name, choices):
            if getattr(self, name) not in choices:
                bad(name, "one of " + ", ".join(map(repr, choices)))

        for name in ("model", "dataset", "train_split", "eval_split", "output_dir"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                bad(name, "a non-empty string")
        if not isinstance(self.model_kwargs, dict):
            bad("model_kwargs", "a dict")
        if self.weights is not None and (not isinstance(self.weights, str) or not self.weights):
            bad("weights", "None, a weights source ('torchvision', 'keras') or a file's path")
        if not isinstance(self.freeze_body, bool):
            bad("freeze_body", "true or false")
        if self.freeze_body and self.weights is None:
            bad("freeze_body", "false without `weights` (a random body is not worth keeping)")
        if self.image_size is not None:
            s = self.image_size
            if (not isinstance(s, (list, tuple)) or len(s) != 2
                    or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0
                               for d in s)):
                bad("image_size", "2 positive ints [height, width] or None")
            self.image_size = list(s)
        if self.channels not in (None, 1, 3):
            bad("channels", "1, 3 or None")
        choice("on_error", ("skip", "raise"))
        positive_int("max_pixels")
        from kcnn.data.augment import AUGMENTATIONS
        choice("augment", AUGMENTATIONS)
        number("scale", lo=1e-12)
        for name in ("mean", "std"):
            v = getattr(self, name)
            if v is not None:
                if (not isinstance(v, (list, tuple)) or not v or not all(
                        isinstance(x, (int, float)) and math.isfinite(x) for x in v)):
                    bad(name, "a list of finite numbers (one per channel) or None")
                setattr(self, name, [float(x) for x in v])
        if self.std is not None and min(self.std) <= 0:
            bad("std", "positive per channel")
        for name in ("shuffle_buffer", "epochs", "global_batch_size"):
            positive_int(name)
        positive_int("max_steps_per_epoch", allow_none=True)
        positive_int("max_eval_steps", allow_none=True)
        choice("optimizer", OPTIMIZERS)
        number("lr", lo=0.0)
        number("momentum", hi=1.0, hi_open=True)
        choice("lr_schedule", SCHEDULES)
        if (not isinstance(self.lr_boundaries, (list, tuple)) or not all(
                isinstance(b, (int, float)) and not isinstance(b, bool) and b > 0
                for b in self.lr_boundaries)
                or list(self.lr_boundaries) != sorted(self.lr_boundaries)):
            bad("lr_boundaries", "increasing positive epochs")
        self.lr_boundaries = list(self.lr_boundaries)
        if self.lr_schedule == "piecewise" and not self.lr_boundaries:
            bad("lr_boundaries", "non-empty with lr_schedule='piecewise'")
        number("lr_decay", lo=0.0)
        number("lr_decay_epochs")
        if self.lr_schedule == "step" and self.lr_decay_epochs <= 0:
            bad("lr_decay_epochs", "> 0 with lr_schedule='step'")
        number("warmup_epochs")
        choice("warmup", WARMUPS)
        number("warmup_lr")
        number("weight_decay")
        number("label_smoothing", hi=1.0, hi_open=True)
        number("aux_loss_weight")
        choice("strategy", STRATEGIES)
        if self.devices is not None and (not isinstance(self.devices, (list, tuple)) or not all(
                isinstance(d, str) for d in self.devices) or not self.devices):
            bad("devices", "a non-empty list of device names such as '/gpu:0', or None")
        if self.strategy == "one_device" and self.devices is not None and len(self.devices) != 1:
            bad("devices", "one device with strategy='one_device'")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            bad("seed", "an int >= 0")
        positive_int("checkpoint_every", allow_zero=True)
        positive_int("keep_checkpoints")
        if self.verbose not in (0, 1, 2):
            bad("verbose", "0, 1 or 2")
        for name in ("nesterov", "mixed_precision", "xla", "sync_batch_norm",
                     "deterministic", "validate"):
            if not isinstance(getattr(self, name), bool):
                bad(name, "True or False")

    # -- serialization ---------------------------------------------------------------
    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data, source=None):
        """Builds a config from a dict; unknown keys are a `ValueError`.

        Old field names (`RENAMED`) are read with a `RenamedFieldWarning`.

        Args:
            data: dict of field name → value.
            source: str or None. Where `data` came from, for the messages.
        """
        where = f" in {source}" if source else ""
        if not isinstance(data, dict):
            raise ValueError(f"A TrainConfig must come from a dict{where}; got "
                             f"{type(data).__name__}.")
        data = upgrade_names(data, source or "TrainConfig", stacklevel=4)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"Unknown TrainConfig field(s) {unknown}{where}; known: "
                             f"{', '.join(sorted(names))}.")
        return cls(**data)

    def save(self, directory):
        path = f"{directory.rstrip('/')}/{FILENAME}"
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path):
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            raise ValueError(f"Cannot read config file {path!r}: {e}.") from e
        return cls.from_dict(data, source=f"config file {path!r}")

    def replace(self, **changes):
        """A copy with `changes` applied (and checked)."""
        changes = upgrade_names(changes, "TrainConfig.replace(...)", stacklevel=4)
        return self.from_dict({**self.to_dict(), **changes})

    def override(self, assignments):
        """A copy with `["lr=0.05", "model_kwargs={\\"batch_norm\\": true}"]` applied.

        Values are JSON (`true`, `[1, 2]`, `null`, numbers); anything else is a string.
        """
        changes = {}
        names = {f.name for f in dataclasses.fields(self)}
        for item in assignments:
            key, sep, text = item.partition("=")
            key = key.strip().replace("-", "_")
            if key in RENAMED:
                _warn_renamed(f"`--set {item}`", key, stacklevel=3)
                key = RENAMED[key]
            if not sep or key not in names:
                raise ValueError(f"`--set` expects FIELD=VALUE with FIELD one of "
                                 f"{', '.join(sorted(names))}; got {item!r}.")
            try:
                value = json.loads(text)
            except ValueError:
                value = text
            current = getattr(self, key)
            if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            changes[key] = value
        return self.replace(**changes)


# TrainConfig(...) reads old field names too: the generated __init__, behind the rename.
_dataclass_init = TrainConfig.__init__


@functools.wraps(_dataclass_init)
def _init(self, *args, **kwargs):
    _dataclass_init(self, *args, **upgrade_names(kwargs, "TrainConfig(...)", stacklevel=4))


TrainConfig.__init__ = _init

# Settings that do not change the training trajectory: a resumed run may differ in them.
RESUME_MAY_CHANGE = frozenset({"output_dir", "verbose", "max_eval_steps", "validate",
                               "keep_checkpoints", "checkpoint_every", "data_dir",
                               "strategy", "devices"})


def field_defaults():
    """{field name: default} of every `TrainConfig` field, as in a saved `config.json`."""
    return {f.name: (f.default_factory() if f.default is dataclasses.MISSING
                     else f.default) for f in dataclasses.fields(TrainConfig)}


def upgrade_names(data, where="TrainConfig", *, warn=True, stacklevel=3):
    """A copy of the dict `data` with old field names (`RENAMED`) replaced by the new ones.

    Args:
        data: dict of field name → value (a config, a saved config.json, a checkpoint's).
        where: str. Where `data` came from, for the messages.
        warn: bool. Warn (`RenamedFieldWarning`) for each old name. Defaults to True.
        stacklevel: int. Passed to `warnings.warn`.

    Raises:
        ValueError: if both the old and the new name of a field are given.
    """
    data = dict(data)
    for old, new in RENAMED.items():
        if old in data:
            if new in data:
                raise ValueError(f"{where}: `{old}` is the old name of `{new}`; give only "
                                 f"`{new}`.")
            data[new] = data.pop(old)
            if warn:
                _warn_renamed(where, old, stacklevel=stacklevel)
    return data


def _warn_renamed(where, old, stacklevel=4):
    warnings.warn(f"{where}: `{old}` is now `{RENAMED[old]}`; the old TrainConfig field name "
                  "still works for now and will be removed.", RenamedFieldWarning,
                  stacklevel=stacklevel)
