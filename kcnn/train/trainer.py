"""`fit(config)`: one training loop for every tf.distribute strategy.

The step is `kcnn.train.make_train_step`: `strategy.run` + `tf.GradientTape` + the Keras
optimizer's `apply_gradients` (`model.fit` fails under MultiWorkerMirroredStrategy with
Keras 3), with Keras's habits kept: `keras.utils.Progbar`, TensorBoard logs, a
History-like record and a CSV.
"""

import dataclasses
import math
import os
import sys
import time

import keras
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from kcnn.data import channel_stats, eval_batches, load_source, train_batches
from kcnn.data.pipeline import steps_per_epoch as full_epoch_steps
from kcnn.io import remove_stale_temp_files
from kcnn.models import get_model, model_info
from kcnn.models.heads import inference_model, outputs_logits
from kcnn.preprocessing import Preprocessing
from kcnn.train import outputs
from kcnn.train.checkpoint import (CORRUPT_ERRORS, NOT_CORRUPT, CheckpointManager, read_state,
                                   run_changes)
from kcnn.train.config import TrainConfig
from kcnn.train.lock import RunLock
from kcnn.train.schedules import PaperSchedule
from kcnn.train.step import evaluate, make_optimizer, make_predict, make_train_step

# The layers `freeze_body` leaves trainable: the classifier, and GoogLeNet's aux heads.
HEAD_LAYERS = ("predictions", "aux1", "aux2")
_SCALAR_META = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
).SerializeToString()


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the last good checkpoint is left as it was."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) during training; `step` is the checkpoint a rerun resumes from."""

    def __init__(self, step):
        self.step = step
        super().__init__(
            f"interrupted; run the same command again to resume from step {step}" if step
            else "interrupted before the first checkpoint; run the same command again to "
                 "start over")


@dataclasses.dataclass
class FitResult:
    """What `fit` returns.

    Attributes:
        model: the trained inference model (auxiliary heads dropped), as saved.
        history: list of per-epoch dicts (`loss`, `accuracy`, `val_*`, `lr`, `seconds`).
        metrics: dict with `top1`, `top5`, `loss` on the evaluation split.
        config: the resolved `TrainConfig`.
        preprocessing: the `Preprocessing` written to `preprocessing.json`.
        output_dir: str.
        resumed_from_step: int. 0 for a fresh run.
        num_replicas: int. Replicas the strategy trained on.
    """

    model: keras.Model
    history: list
    metrics: dict
    config: TrainConfig
    preprocessing: Preprocessing
    output_dir: str
    resumed_from_step: int = 0
    num_replicas: int = 1


def make_strategy(config):
    """The `tf.distribute.Strategy` that `config.strategy` names."""
    if config.strategy == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("strategy='multi_worker' reads the cluster from the TF_CONFIG "
                             "environment variable, which is not set.")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if config.strategy == "mirrored":
        return tf.distribute.MirroredStrategy(devices=config.devices)
    if config.strategy == "one_device":
        device = (config.devices or ["/gpu:0" if tf.config.list_physical_devices("GPU")
                                     else "/cpu:0"])[0]
        return tf.distribute.OneDeviceStrategy(device)
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _default_input_shape(config):
    """(H, W, C) from the config, falling back on the model's `default_input_shape`."""
    default = model_info(config.model).default_input_shape  # raises for unknown names
    if default is None:
        if config.image_size is None or config.channels is None:
            raise ValueError(f"model {config.model!r} has no default input_shape; set "
                             f"`image_size` and `channels` in the TrainConfig.")
        default = (*config.image_size, config.channels)
    height, width, channels = default
    return (*(config.image_size or (height, width)), config.channels or channels)


def _resolve(config, train_source):
    """Fills in image_size, channels, mean and std; returns (config, Preprocessing)."""
    if config.weights is not None:
        return _resolve_pretrained(config, train_source)
    height, width, channels = _default_input_shape(config)
    image_size = [height, width]
    mean, std = config.mean, config.std
    if mean is None or std is None:
        measured_mean, measured_std = channel_stats(train_source, config.scale, image_size)
        mean = mean or [round(float(v), 6) for v in measured_mean]
        std = std or [round(max(float(v), 1e-6), 6) for v in measured_std]
    if len(mean) == 1 and channels == 3:
        mean, std = mean * 3, std * 3
    config = config.replace(image_size=image_size, channels=channels, mean=mean, std=std)
    prep = Preprocessing(image_size=tuple(image_size), channels=channels, scale=config.scale,
                         mean=tuple(mean), std=tuple(std),
                         class_names=train_source.class_names)
    return config, prep


def _resolve_pretrained(config, train_source):
    """`_resolve` for a run from published weights: their preprocessing, the dataset's
    class names, `image_size` the weights' crop unless set."""
    from kcnn.weights.preprocessing import preprocessing_for_weights

    weights = preprocessing_for_weights(
        config.model, config.weights, include_top=config.model_kwargs.get("include_top", True),
        class_names=False)
    for name in ("mean", "std"):
        given = getattr(config, name)
        if given is not None and [round(v, 6) for v in given] != [
                round(v, 6) for v in getattr(weights, name)]:
            raise ValueError(
                f"TrainConfig: `{name}`={given} but the weights {config.weights!r} were "
                f"trained with {name}={list(getattr(weights, name))}; leave `{name}` unset.")
    image_size = list(config.image_size or weights.image_size)
    config = config.replace(image_size=image_size, channels=3, scale=weights.scale,
                            mean=list(weights.mean), std=list(weights.std))
    prep = dataclasses.replace(weights, image_size=tuple(image_size),
                               class_names=train_source.class_names)
    return config, prep


def fit(config):
    """Trains `config.model` on `config.dataset` as `config` says; resumes if it can.

    Running the same config again after a kill resumes from the newest complete
    checkpoint in `<output_dir>/checkpoints` and gives the same final weights as an
    uninterrupted run (with `deterministic=True`).

    Args:
        config: a `TrainConfig`.

    Returns:
        A `FitResult`.

    Raises:
        ValueError: bad settings or data.
        TrainingDiverged: the loss became NaN or infinite.
        OutputDirLocked (a ValueError): another run is training into `output_dir`.
        TrainingInterrupted (a KeyboardInterrupt): Ctrl-C; its `step` is where a rerun
            resumes.
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"fit() expects a TrainConfig; got {type(config).__name__}.")
    if keras.backend.backend() != "tensorflow":
        raise ValueError(f"kcnn.train runs on tf.distribute and needs the TensorFlow Keras "
                         f"backend (KERAS_BACKEND=tensorflow); got {keras.backend.backend()!r}.")
    config.validate_values()
    strategy = make_strategy(config)  # first: MultiWorkerMirroredStrategy must come early
    previous_policy = keras.config.dtype_policy()
    try:
        return _fit(config, strategy)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _fit(config, strategy):
    # The chief holds its output folder from before it reads or writes anything there
    # (the other workers of a multi-worker run write nothing into theirs).
    chief = strategy.extended.should_checkpoint
    lock = RunLock(config.output_dir) if chief else None
    try:
        if chief:  # under the lock, no other run is writing: a temp file is a dead one's
            remove_stale_temp_files(config.output_dir, outputs.WRITTEN)
        if config.deterministic:
            tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(config.seed)
        run = _Run(config, strategy)
        try:
            run.restore()
            run.write_run_files()
            while run.step < run.total_steps:
                run.train_epoch()
            return run.finish()
        except KeyboardInterrupt:
            raise TrainingInterrupted(run.resume_step()) from None
    finally:
        if lock is not None:
            lock.release()


class _Run:
    """One call of `fit`: its data, model and step, its loop state and output folder.

    `__init__` prepares (data, the resolved config and preprocessing, the model and
    optimizer in the strategy's scope, the step); `restore` continues from the newest
    checkpoint; `train_epoch` runs (the rest of) one epoch and checkpoints it; `finish`
    evaluates and writes the model.
    """

    def __init__(self, config, strategy):
        self.strategy = strategy
        self.is_chief = strategy.extended.should_checkpoint
        self.out = config.output_dir
        self.verbose = config.verbose if self.is_chief else 0
        if self.verbose == 1 and not _is_terminal(sys.stdout):
            self.verbose = 2  # a log file gets one line per epoch, not a progress bar's bytes
        self._prepare_data(config)
        self._build_model()
        self.manager = CheckpointManager(
            os.path.join(self.out, "checkpoints"),
            tf.train.Checkpoint(variables=list(self.model.variables), optimizer=self.optimizer),
            keep=self.config.keep_checkpoints, is_chief=self.is_chief)
        self.state = {"step": 0, "history": []}
        self.last_checkpoint = None
        self.resumed_from = 0

    def _prepare_data(self, config):
        """The splits, the resolved config and preprocessing, the epoch's length."""
        self.train_source = load_source(
            config.dataset, config.train_split, data_dir=config.data_dir,
            channels=_default_input_shape(config)[2], on_error=config.on_error,
            max_pixels=config.max_pixels)
        self.eval_source = load_source(
            config.dataset, config.eval_split, data_dir=config.data_dir,
            channels=self.train_source.channels, on_error=config.on_error,
            max_pixels=config.max_pixels)
        config, self.prep = _resolve(config, self.train_source)
        self.config = config
        self.num_classes = self.train_source.num_classes
        full = full_epoch_steps(self.train_source, config.global_batch_size)
        self.steps = min(full, config.max_steps_per_epoch or full)
        self.total_steps = self.steps * config.epochs
        replicas = self.strategy.num_replicas_in_sync
        if config.global_batch_size % replicas:
            raise ValueError(f"`global_batch_size`={config.global_batch_size} must be a "
                             f"multiple of the {replicas} replicas.")

    def _build_model(self):
        """The model, schedule and optimizer in the strategy's scope; the step functions."""
        config, prep = self.config, self.prep
        if config.mixed_precision:
            gpu = bool(tf.config.list_physical_devices("GPU"))
            keras.config.set_dtype_policy("mixed_float16" if gpu else "mixed_bfloat16")
        self.schedule = PaperSchedule.from_train_config(
            config, steps_per_epoch=self.steps, total_steps=self.total_steps)
        with self.strategy.scope():
            weights = {} if config.weights is None else {"weights": config.weights}
            self.model = get_model(config.model, input_shape=(*prep.image_size, prep.channels),
                                   num_classes=self.num_classes, **weights,
                                   **config.model_kwargs)
            if config.freeze_body:
                for layer in self.model.layers:
                    layer.trainable = layer.name in HEAD_LAYERS
            self.batch_norms = [layer for layer in self.model._flatten_layers()
                                if isinstance(layer, keras.layers.BatchNormalization)]
            for layer in self.batch_norms:
                layer.synchronized = config.sync_batch_norm
            self.optimizer = make_optimizer(config, self.schedule)
            self.optimizer.build(self.model.trainable_variables)
        self.train_step = make_train_step(self.model, self.optimizer, config,
                                          strategy=self.strategy)
        self.predict = make_predict(self.model)
        self.from_logits = outputs_logits(self.model)

    @property
    def step(self):
        return self.state["step"]

    @property
    def history(self):
        return self.state["history"]

    def restore(self):
        """Continues from the newest intact checkpoint, if it is of the same run.

        The saved config and variable shapes are compared before any value is read, so a
        changed setting is named rather than failing inside TensorFlow's restore. A
        checkpoint that cannot be read is set aside and the one before it tried.
        """
        initial = None  # the fresh values, should every checkpoint be unreadable
        for path in self.manager.candidates():
            try:
                saved = read_state(path)
            except ValueError as e:
                self.manager.set_aside(path, str(e))
                continue
            self._check_same_run(saved)
            tracked = [*self.model.variables, *self.optimizer.variables]
            initial = initial or [v.numpy() for v in tracked]
            try:
                self.manager.read_weights(path)
            except CORRUPT_ERRORS as e:
                if isinstance(e, NOT_CORRUPT):
                    raise
                self.manager.set_aside(path, f"{type(e).__name__}: {_first_line(e)}")
                continue
            self.state, self.last_checkpoint = saved, path
            self.resumed_from = self.step
            if self.verbose:
                print(f"Resuming from {path} (step {self.step} of {self.total_steps}).",
                      flush=True)
            return
        if initial is not None:  # a failed read may have assigned some values: undo
            for variable, value in zip(tracked, initial):
                variable.assign(value)

    def _check_same_run(self, saved):
        """Raises ValueError naming what differs between checkpoint state `saved` and now."""
        what = run_changes(saved, self.config.to_dict(), self.steps, self._variable_shapes(),
                           [v.path for v in self.model.variables])
        if what:
            raise ValueError(
                f"{self.out!r} holds checkpoints of a different run (changed: {what}); pass "
                "another output_dir to start anew, or the same settings to resume.")

    def _variable_shapes(self):
        return [list(v.shape) for v in self.model.variables]

    def resume_step(self):
        """The step a rerun would resume from (0: none)."""
        for path in self.manager.candidates():
            try:
                return read_state(path)["step"]
            except ValueError:
                continue
        return 0

    def write_run_files(self):
        """config.json and preprocessing.json (chief only); the TensorBoard writer."""
        if self.is_chief:
            os.makedirs(self.out, exist_ok=True)
            self.config.save(self.out)
            self.prep.save(self.out)
        self.writer = (tf.summary.create_file_writer(os.path.join(self.out, "logs"))
                       if self.is_chief else tf.summary.create_noop_writer())

    def _state(self, step, running):
        return {"step": step, "steps_per_epoch": self.steps, "config": self.config.to_dict(),
                "variable_shapes": self._variable_shapes(), "running": running,
                "history": self.history}

    def _evaluate(self):
        batches = eval_batches(self.eval_source, self.prep,
                               batch_size=self.config.global_batch_size,
                               max_steps=self.config.max_eval_steps)
        return evaluate(self.predict, batches, self.num_classes, self.from_logits)

    def _diverged(self, loss, epoch, step):
        where = (f"{self.last_checkpoint} (step {read_state(self.last_checkpoint)['step']})"
                 if self.last_checkpoint else "none (no checkpoint was written yet)")
        return TrainingDiverged(
            f"Training stopped: the loss is {loss} at epoch {epoch + 1}, step "
            f"{step - epoch * self.steps + 1} (global step {step + 1}). Nothing was saved "
            f"after the last good checkpoint: {where}. Try a lower learning rate.")

    def train_epoch(self):
        """Runs the epoch the loop is in, from its current step; checkpoints at its end."""
        config, steps, step = self.config, self.steps, self.step
        epoch, start = divmod(step, steps)
        running = self.state.get("running") if start and self.state.get("running") else {
            "loss_sum": 0.0, "correct": 0.0, "count": 0, "seconds": 0.0}
        dataset = train_batches(self.train_source, self.prep,
                                global_batch_size=config.global_batch_size, seed=config.seed,
                                epoch=epoch, start_step=start, augment=config.augment,
                                shuffle_buffer=config.shuffle_buffer)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        dataset = dataset.take(steps - start).with_options(options)
        if self.verbose == 1:
            print(f"Epoch {epoch + 1}/{config.epochs}")
        bar = keras.utils.Progbar(steps, verbose=self.verbose if self.verbose == 1 else 0,
                                  stateful_metrics=["loss", "accuracy", "lr"])
        tic = time.perf_counter()
        for images, labels in self.strategy.experimental_distribute_dataset(dataset):
            loss, correct = self.train_step(images, labels)
            loss = float(loss)
            if not math.isfinite(loss):
                raise self._diverged(loss, epoch, step)
            step += 1
            running["loss_sum"] += loss * config.global_batch_size
            running["correct"] += float(correct)
            running["count"] += config.global_batch_size
            lr = float(self.schedule(step - 1))
            bar.update(step - epoch * steps, [
                ("loss", running["loss_sum"] / running["count"]),
                ("accuracy", running["correct"] / running["count"]), ("lr", lr)])
            with self.writer.as_default():
                _scalar("train/loss", loss, step)
                _scalar("train/lr", lr, step)
            if step % steps == 0:
                break
            if config.checkpoint_every and step % config.checkpoint_every == 0:
                running["seconds"] += time.perf_counter() - tic
                tic = time.perf_counter()
                self.last_checkpoint = (self.manager.save(step, self._state(step, running))
                                        or self.last_checkpoint)
        running["seconds"] += time.perf_counter() - tic
        record = {"epoch": epoch + 1, "loss": running["loss_sum"] / running["count"],
                  "accuracy": running["correct"] / running["count"], "lr": lr,
                  "seconds": round(running["seconds"], 3)}
        if config.validate or step == self.total_steps:
            metrics = self._evaluate()
            record.update(val_loss=metrics["loss"], val_accuracy=metrics["top1"],
                          val_top5=metrics["top5"])
        self.history.append(record)
        self.state = self._state(step, None)
        self.last_checkpoint = self.manager.save(step, self.state) or self.last_checkpoint
        self._log_epoch(record)

    def _log_epoch(self, record):
        epoch = record["epoch"]
        with self.writer.as_default():
            for key, value in record.items():
                if key != "epoch" and value is not None:
                    _scalar(f"epoch/{key}", value, epoch)
        self.writer.flush()
        if self.verbose == 2 or (self.verbose == 1 and "val_accuracy" in record):
            print(" - ".join(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}"
                             for k, v in record.items() if v is not None),
                  flush=True)  # a log file (block-buffered) shows each epoch as it ends
        if self.is_chief:
            outputs.write_history_csv(os.path.join(self.out, outputs.HISTORY_CSV),
                                      self.history)
            outputs.plot_curves(os.path.join(self.out, outputs.CURVES_PNG),
                                {self.config.model: self.history},
                                title=f"{self.config.model} on {self.config.dataset}")

    def finish(self):
        """The final metrics; the inference model saved; the `FitResult`."""
        config, history = self.config, self.history
        if (history and history[-1].get("val_accuracy") is not None
                and self.resumed_from < self.total_steps):
            last = history[-1]
            metrics = {"loss": last["val_loss"], "top1": last["val_accuracy"],
                       "top5": last["val_top5"]}
        else:
            m = self._evaluate()
            metrics = {"loss": m["loss"], "top1": m["top1"], "top5": m["top5"]}
        metrics.update(split=config.eval_split, dataset=config.dataset, epochs=config.epochs,
                       steps=self.total_steps)
        for layer in self.batch_norms:
            layer.synchronized = False  # the saved model runs without a strategy
        final = inference_model(self.model)
        outputs.save_model(final, os.path.join(self.out, outputs.MODEL_FILE),
                           is_chief=self.is_chief)
        if self.is_chief:
            outputs.write_json(os.path.join(self.out, outputs.METRICS_JSON), metrics)
            if history:
                outputs.write_history_csv(os.path.join(self.out, outputs.HISTORY_CSV),
                                          history)
        self.writer.close()
        if self.verbose:
            print(f"{config.eval_split} top-1 accuracy: {metrics['top1']:.2%}, top-5: "
                  f"{metrics['top5']:.2%} ({config.model} on {config.dataset}); outputs in "
                  f"{self.out}")
        return FitResult(model=final, history=history, metrics=metrics, config=config,
                         preprocessing=self.prep, output_dir=self.out,
                         resumed_from_step=self.resumed_from,
                         num_replicas=self.strategy.num_replicas_in_sync)


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def _first_line(error):
    text = str(getattr(error, "message", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _scalar(tag, value, step):
    """A TensorBoard scalar through `tf.summary.write` (no `tensorboard` package needed)."""
    tf.summary.write(tag, tf.constant(value, tf.float32), step=step, metadata=_SCALAR_META)
