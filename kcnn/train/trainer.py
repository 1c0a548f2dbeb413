"""`fit(config)`: one training loop for every tf.distribute strategy.

The step is `strategy.run` + `tf.GradientTape` + the Keras optimizer's `apply_gradients`
(`model.fit` fails under MultiWorkerMirroredStrategy with Keras 3), with Keras's habits
kept: `keras.utils.Progbar`, TensorBoard logs, a History-like record and a CSV.
"""

import dataclasses
import json
import math
import os
import time

import keras
import tensorflow as tf

from kcnn.data import Preprocessing, channel_stats, eval_batches, load_source, train_batches
from kcnn.data.pipeline import steps_per_epoch as _steps_per_epoch
from kcnn.models import get_model, model_info
from kcnn.train import outputs
from kcnn.train._parts import (evaluate, inference_model, make_optimizer, scalar,
                               split_outputs)
from kcnn.train.checkpoint import CheckpointManager, read_state
from kcnn.train.config import TrainConfig
from kcnn.train.schedules import PaperSchedule

# Settings that do not change the training trajectory: a resume may differ in them.
_RESUME_MAY_CHANGE = frozenset({"output_dir", "verbose", "eval_steps", "validate",
                                "keep_checkpoints", "checkpoint_every", "data_dir",
                                "strategy", "devices"})


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the last good checkpoint is left as it was."""


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
    height, width, channels = _default_input_shape(config)
    image_size = [height, width]
    mean, std = config.mean, config.std
    if mean is None or std is None:
        measured_mean, measured_std = channel_stats(train_source, config.scale)
        mean = mean or [round(float(v), 6) for v in measured_mean]
        std = std or [round(max(float(v), 1e-6), 6) for v in measured_std]
    if len(mean) == 1 and channels == 3:
        mean, std = mean * 3, std * 3
    config = config.replace(image_size=image_size, channels=channels, mean=mean, std=std)
    prep = Preprocessing(image_size=tuple(image_size), channels=channels, scale=config.scale,
                         mean=tuple(mean), std=tuple(std),
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
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config.seed)
    is_chief = strategy.extended.should_checkpoint
    out = config.output_dir
    verbose = config.verbose if is_chief else 0

    train_source = load_source(config.dataset, config.train_split, data_dir=config.data_dir,
                               channels=_default_input_shape(config)[2],
                               on_error=config.on_error)
    eval_source = load_source(config.dataset, config.eval_split, data_dir=config.data_dir,
                              channels=train_source.channels, on_error=config.on_error)
    config, prep = _resolve(config, train_source)
    num_classes = train_source.num_classes
    full_steps = _steps_per_epoch(train_source, config.global_batch_size)
    steps = min(full_steps, config.steps_per_epoch or full_steps)
    total_steps = steps * config.epochs
    replicas = strategy.num_replicas_in_sync
    if config.global_batch_size % replicas:
        raise ValueError(f"`global_batch_size`={config.global_batch_size} must be a multiple "
                         f"of the {replicas} replicas.")

    if config.mixed_precision:
        gpu = bool(tf.config.list_physical_devices("GPU"))
        keras.config.set_dtype_policy("mixed_float16" if gpu else "mixed_bfloat16")
    schedule = PaperSchedule(config.lr, config.lr_schedule, steps, total_steps,
                             boundaries=config.lr_boundaries, decay=config.lr_decay,
                             decay_epochs=config.lr_decay_epochs,
                             warmup_epochs=config.warmup_epochs, warmup=config.warmup,
                             warmup_lr=config.warmup_lr)
    with strategy.scope():
        model = get_model(config.model, input_shape=(*prep.image_size, prep.channels),
                          num_classes=num_classes, **config.model_kwargs)
        batch_norms = [layer for layer in model._flatten_layers()
                       if isinstance(layer, keras.layers.BatchNormalization)]
        for layer in batch_norms:
            layer.synchronized = config.sync_batch_norm
        optimizer = make_optimizer(config, schedule)
        optimizer.build(model.trainable_variables)
    names = list(model.output_names)
    from_logits = config.model_kwargs.get("classifier_activation") is None
    decayed = [v for v in model.trainable_variables
               if "kernel" in v.name] if config.optimizer != "adamw" else []

    checkpoint = tf.train.Checkpoint(variables=list(model.variables), optimizer=optimizer)
    manager = CheckpointManager(os.path.join(out, "checkpoints"), checkpoint,
                                keep=config.keep_checkpoints, is_chief=is_chief)
    state = {"step": 0, "history": []}
    latest = manager.latest()
    if latest is not None:
        saved = manager.restore(latest)
        before, now = saved.get("config", {}), config.to_dict()
        changed = sorted(k for k in now if k not in _RESUME_MAY_CHANGE
                         and before.get(k) != json.loads(json.dumps(now[k])))
        if changed or saved.get("steps_per_epoch") != steps:
            raise ValueError(
                f"{out!r} holds checkpoints of a different run (changed: "
                f"{', '.join(f'{k}: {before.get(k)!r} -> {now[k]!r}' for k in changed) or 'steps per epoch'}); "
                f"pass another output_dir to start anew, or the same settings to resume.")
        state = saved
        if verbose:
            print(f"Resuming from {latest} (step {state['step']} of {total_steps}).")
    resumed_from = state["step"]
    history = state["history"]
    if is_chief:
        os.makedirs(out, exist_ok=True)
        config.save(out)
        prep.save(out)
    writer = (tf.summary.create_file_writer(os.path.join(out, "logs")) if is_chief
              else tf.summary.create_noop_writer())

    def loss_fn(labels, logits):
        logits = tf.cast(logits, tf.float32)
        onehot = tf.one_hot(labels, num_classes)
        return keras.losses.categorical_crossentropy(
            onehot, logits, from_logits=from_logits, label_smoothing=config.label_smoothing)

    def grads_fn(images, labels):
        with tf.GradientTape() as tape:
            main, aux = split_outputs(model(images, training=True), names)
            loss = tf.reduce_sum(loss_fn(labels, main)) / config.global_batch_size
            for head in aux:
                loss += (config.aux_loss_weight * tf.reduce_sum(loss_fn(labels, head))
                         / config.global_batch_size)
            if model.losses:
                loss += tf.add_n([tf.cast(x, tf.float32) for x in model.losses]) / replicas
            if decayed and config.weight_decay:
                l2 = tf.add_n([tf.reduce_sum(tf.square(tf.cast(v.value, tf.float32)))
                               for v in decayed])
                loss += 0.5 * config.weight_decay * l2 / replicas
            scaled = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, model.trainable_variables)
        correct = tf.reduce_sum(tf.cast(tf.equal(
            tf.argmax(main, axis=-1, output_type=tf.int64), labels), tf.float32))
        return grads, loss, correct

    if config.xla:
        grads_fn = tf.function(grads_fn, jit_compile=True)

    def step_fn(images, labels):
        grads, loss, correct = grads_fn(images, labels)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, correct

    @tf.function
    def train_step(images, labels):
        loss, correct = strategy.run(step_fn, args=(images, labels))
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.SUM, correct, axis=None))

    @tf.function
    def predict(images):
        main, _ = split_outputs(model(images, training=False), names)
        return tf.cast(main, tf.float32)

    def run_eval():
        return evaluate(predict, eval_batches(eval_source, prep,
                                              batch_size=config.global_batch_size,
                                              steps=config.eval_steps),
                        num_classes, from_logits)

    def state_for(step, running):
        return {"step": step, "steps_per_epoch": steps, "config": config.to_dict(),
                "running": running, "history": history}

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    step = state["step"]
    last_checkpoint = latest
    while step < total_steps:
        epoch, start = divmod(step, steps)
        running = state.get("running") if start and state.get("running") else {
            "loss_sum": 0.0, "correct": 0.0, "count": 0, "seconds": 0.0}
        dataset = train_batches(train_source, prep, global_batch_size=config.global_batch_size,
                                seed=config.seed, epoch=epoch, start_step=start,
                                augment=config.augment, shuffle_buffer=config.shuffle_buffer)
        dataset = dataset.take(steps - start).with_options(options)
        if verbose == 1:
            print(f"Epoch {epoch + 1}/{config.epochs}")
        bar = keras.utils.Progbar(steps, verbose=verbose if verbose == 1 else 0,
                                  stateful_metrics=["loss", "accuracy", "lr"])
        tic = time.perf_counter()
        for images, labels in strategy.experimental_distribute_dataset(dataset):
            loss, correct = train_step(images, labels)
            loss = float(loss)
            if not math.isfinite(loss):
                where = (f"{last_checkpoint} (step {read_state(last_checkpoint)['step']})"
                         if last_checkpoint else "none (no checkpoint was written yet)")
                raise TrainingDiverged(
                    f"Training stopped: the loss is {loss} at epoch {epoch + 1}, step "
                    f"{step - epoch * steps + 1} (global step {step + 1}). Nothing was saved "
                    f"after the last good checkpoint: {where}. Try a lower learning rate.")
            step += 1
            running["loss_sum"] += loss * config.global_batch_size
            running["correct"] += float(correct)
            running["count"] += config.global_batch_size
            lr = float(schedule(step - 1))
            bar.update(step - epoch * steps, [
                ("loss", running["loss_sum"] / running["count"]),
                ("accuracy", running["correct"] / running["count"]), ("lr", lr)])
            with writer.as_default():
                scalar("train/loss", loss, step)
                scalar("train/lr", lr, step)
            if step % steps == 0:
                break
            if config.checkpoint_every and step % config.checkpoint_every == 0:
                running["seconds"] += time.perf_counter() - tic
                tic = time.perf_counter()
                last_checkpoint = manager.save(step, state_for(step, running)) or last_checkpoint
        running["seconds"] += time.perf_counter() - tic
        record = {"epoch": epoch + 1, "loss": running["loss_sum"] / running["count"],
                  "accuracy": running["correct"] / running["count"], "lr": lr,
                  "seconds": round(running["seconds"], 3)}
        if config.validate or step == total_steps:
            metrics = run_eval()
            record.update(val_loss=metrics["loss"], val_accuracy=metrics["top1"],
                          val_top5=metrics["top5"])
        history.append(record)
        state = state_for(step, None)
        last_checkpoint = manager.save(step, state) or last_checkpoint
        with writer.as_default():
            for key, value in record.items():
                if key != "epoch" and value is not None:
                    scalar(f"epoch/{key}", value, epoch + 1)
        writer.flush()
        if verbose == 2 or (verbose == 1 and "val_accuracy" in record):
            print(" - ".join(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}"
                             for k, v in record.items() if v is not None))
        if is_chief:
            outputs.write_history_csv(os.path.join(out, outputs.HISTORY_CSV), history)
            outputs.plot_curves(os.path.join(out, outputs.CURVES_PNG),
                                {config.model: history}, title=f"{config.model} on "
                                f"{config.dataset}")
    if history and history[-1].get("val_accuracy") is not None and resumed_from < total_steps:
        last = history[-1]
        metrics = {"loss": last["val_loss"], "top1": last["val_accuracy"],
                   "top5": last["val_top5"]}
    else:
        m = run_eval()
        metrics = {"loss": m["loss"], "top1": m["top1"], "top5": m["top5"]}
    metrics.update(split=config.eval_split, dataset=config.dataset, epochs=config.epochs,
                   steps=total_steps)
    for layer in batch_norms:
        layer.synchronized = False  # the saved model runs without a strategy
    final = inference_model(model)
    outputs.save_model(final, os.path.join(out, outputs.MODEL_FILE), is_chief=is_chief)
    if is_chief:
        outputs.write_json(os.path.join(out, outputs.METRICS_JSON), metrics)
        if history:
            outputs.write_history_csv(os.path.join(out, outputs.HISTORY_CSV), history)
    writer.close()
    if verbose:
        print(f"{config.eval_split} top-1 accuracy: {metrics['top1']:.2%}, top-5: "
              f"{metrics['top5']:.2%} ({config.model} on {config.dataset}); outputs in {out}")
    return FitResult(model=final, history=history, metrics=metrics, config=config,
                     preprocessing=prep, output_dir=out, resumed_from_step=resumed_from,
                     num_replicas=replicas)
