"""One measurement of a Keras model (kcnn or keras.applications), in its own process.

Run by `benchmarks.run`; each call is a fresh process so that its peak memory is its own.
The backend is `KERAS_BACKEND` (tensorflow or jax); under jax TensorFlow is never imported.

    python -m benchmarks.keras_worker --mode full --case resnet50 --task train \
        --source kcnn --precision fp32 --xla 0 --out result.json
"""

import argparse
import dataclasses
import json
import sys
import tempfile

import keras
import numpy as np

from benchmarks import settings
from benchmarks._timing import latency, log, peak_rss_mib, rss_mib, throughput, write_result

BACKEND = keras.backend.backend()
POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16"}


def build(case, source):
    """The model of `case` from `source` ("kcnn" or "keras_app"), returning logits."""
    if source == "kcnn":
        from kcnn.models import get_model
        return get_model(case.name, input_shape=case.input_shape,
                         num_classes=case.num_classes, **case.kcnn_kwargs)
    app = getattr(keras.applications, case.keras_app)
    return app(weights=None, input_shape=case.input_shape, classes=case.num_classes,
               classifier_activation=None)


def macs(model):
    from kcnn.analysis import summarize
    return int(summarize(model).totals["macs"])


def synthetic(case, batch, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((batch, *case.input_shape)).astype("float32")
    labels = rng.integers(0, case.num_classes, batch).astype("int32")
    return images, labels


def tf_train_step(model, optimizer, batch, xla):
    """kcnn.train's own step (`kcnn.train.make_train_step`, what `fit` runs) for batches of
    `batch`, with the benchmark's loss settings: softmax cross-entropy on logits, no weight
    decay, no label smoothing; the forward and backward pass compiled with XLA when `xla`
    (as TrainConfig.xla)."""
    from kcnn.train import TrainConfig, make_train_step
    config = TrainConfig(model=model.name, global_batch_size=batch, xla=bool(xla),
                         optimizer="sgd", lr=settings.LR, momentum=settings.MOMENTUM,
                         lr_schedule="constant", weight_decay=0.0, label_smoothing=0.0)
    return make_train_step(model, optimizer, config)


def jax_train_step(model, optimizer):
    """A jitted stateless step: value_and_grad of `stateless_call`, `stateless_apply`.

    The benchmark's own step, not kcnn's: kcnn.train runs on tf.distribute (TensorFlow
    only), so under the JAX backend there is no trainer step to time. Same loss as
    `tf_train_step`: mean softmax cross-entropy on logits."""
    import jax

    def loss_fn(trainable, non_trainable, images, labels):
        logits, non_trainable = model.stateless_call(trainable, non_trainable, images,
                                                     training=True)
        loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(
            labels, keras.ops.cast(logits, "float32"), from_logits=True))
        return loss, non_trainable

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    @jax.jit
    def step(state, images, labels):
        trainable, non_trainable, opt_vars = state
        (loss, non_trainable), grads = grad_fn(trainable, non_trainable, images, labels)
        trainable, opt_vars = optimizer.stateless_apply(opt_vars, grads, trainable)
        return loss, (trainable, non_trainable, opt_vars)

    # A tuple, as the step returns it: the same pytree structure, so no second compilation.
    state = ([v.value for v in model.trainable_variables],
             [v.value for v in model.non_trainable_variables],
             [v.value for v in optimizer.variables])
    return step, state


def train(case, model, args):
    optimizer = keras.optimizers.SGD(settings.LR, momentum=settings.MOMENTUM)
    optimizer.build(model.trainable_variables)
    images, labels = synthetic(case, case.train_batch)
    if BACKEND == "jax":
        import jax
        step_fn, state = jax_train_step(model, optimizer)
        images, labels = jax.device_put(images), jax.device_put(labels)
        box = {"state": state}

        def step():
            loss, box["state"] = step_fn(box["state"], images, labels)
            return loss
    else:
        import tensorflow as tf
        step_fn = tf_train_step(model, optimizer, case.train_batch, args.xla)
        images, labels = tf.constant(images), tf.constant(labels)

        def step():
            loss, _ = step_fn(images, labels)
            return loss
    result = throughput(step, lambda loss: float(loss), batch=case.train_batch,
                        warmup=case.warmup_steps, steps=case.timed_steps,
                        rounds=settings.ROUNDS[args.mode])
    result["peak_rss_mib"] = peak_rss_mib()
    return result


def infer(case, model, args):
    images, _ = synthetic(case, case.infer_batch)
    result = throughput(lambda: model.predict_on_batch(images), np.asarray,
                        batch=case.infer_batch, warmup=2,
                        steps=max(2, case.timed_steps))
    one = images[:1]
    calls = {"keras_latency": (lambda: model.predict_on_batch(one), np.asarray)}
    with tempfile.TemporaryDirectory() as base:
        if BACKEND == "tensorflow" and args.source == "kcnn":
            pixels = one * 0 + 127.0
            calls["saved_model_latency"] = saved_model_call(model, pixels, base + "/plain",
                                                            fold_bn=False)
            if any(isinstance(layer, keras.layers.BatchNormalization)
                   for layer in model._flatten_layers()):
                from kcnn.export.fold import fold_batch_norm
                folded = fold_batch_norm(model)
                calls["folded_keras_latency"] = (lambda: folded.predict_on_batch(one),
                                                 np.asarray)
                calls["folded_saved_model_latency"] = saved_model_call(
                    model, pixels, base + "/folded", fold_bn=True)
        result.update(latency(calls, settings.LATENCY_REPEATS[args.mode]))
    result["peak_rss_mib"] = peak_rss_mib()
    return result


def saved_model_call(model, pixels, base, fold_bn):
    """(call, sync) of the exported SavedModel's float signature (preprocessing, the model,
    softmax and top-k in one graph), loaded as TF Serving would load it; BatchNorm folded
    into the convolutions or not (`fold_bn`, the exporter's default is True)."""
    import tensorflow as tf
    from kcnn.export import FLOAT_INPUT, FLOAT_SIGNATURE, export_saved_model
    exported = export_saved_model(model, base, warmup=False, fold_bn=fold_bn)
    fn = tf.saved_model.load(exported.path).signatures[FLOAT_SIGNATURE]
    x = tf.constant(pixels)
    return (lambda: fn(**{FLOAT_INPUT: x}),
            lambda out: [v.numpy() for v in out.values()])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=("full", "smoke"), required=True)
    parser.add_argument("--case", required=True)
    parser.add_argument("--task", choices=("train", "infer"), required=True)
    parser.add_argument("--source", choices=("kcnn", "keras_app"), default="kcnn")
    parser.add_argument("--precision", choices=tuple(POLICIES), default="fp32")
    parser.add_argument("--xla", type=int, choices=(0, 1), default=0)
    parser.add_argument("--train-batch", type=int, help="overrides the case's training batch")
    parser.add_argument("--kwargs", type=json.loads, default={},
                        help="JSON of extra kcnn builder arguments (a variant as an option)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if BACKEND == "jax" and args.xla:
        parser.error("--xla is the TensorFlow option; the jax backend always compiles.")
    case = settings.case(args.mode, args.case)
    if args.train_batch:
        case = dataclasses.replace(case, train_batch=args.train_batch)
    if args.kwargs:
        case = dataclasses.replace(case, kcnn_kwargs={**case.kcnn_kwargs, **args.kwargs})
    keras.config.set_dtype_policy(POLICIES[args.precision])
    if BACKEND == "tensorflow":  # keras.utils.set_random_seed imports TensorFlow
        keras.utils.set_random_seed(0)
    baseline = rss_mib()
    model = build(case, args.source)
    result = {"backend": BACKEND, "framework_rss_mib": baseline,
              "params": int(sum(np.prod(w.shape) for w in model.trainable_weights))}
    if args.precision == "fp32":
        result["macs"] = macs(model)
    log(f"{args.source} {case.name} {args.task} {args.precision} xla={args.xla} on {BACKEND}")
    result.update(train(case, model, args) if args.task == "train" else infer(case, model, args))
    result["tensorflow_imported"] = "tensorflow" in sys.modules
    write_result(args.out, result)


if __name__ == "__main__":
    main()
