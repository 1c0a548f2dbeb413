"""One step of `fit`: the optimizer, the training step, the evaluation pass.

`make_train_step` is the step the trainer runs, public so that the benchmarks time it
(and anyone can drive it from their own loop). It is `strategy.run` + `tf.GradientTape`
+ the Keras optimizer's `apply_gradients` inside a `tf.function`.
"""

import keras
import tensorflow as tf

from kcnn.models.heads import outputs_logits, split_outputs


def make_optimizer(config, learning_rate):
    """The Keras optimizer that `config.optimizer` names, at `learning_rate`.

    Args:
        config: a `TrainConfig` (`optimizer`, `momentum`, `nesterov`, `weight_decay`,
            `mixed_precision`).
        learning_rate: float or a `LearningRateSchedule` (`PaperSchedule`).
    """
    if config.optimizer == "sgd":
        opt = keras.optimizers.SGD(learning_rate, momentum=config.momentum,
                                   nesterov=config.nesterov)
    elif config.optimizer == "adam":
        opt = keras.optimizers.Adam(learning_rate)
    elif config.optimizer == "adamw":
        # AdamW's decay is decoupled; with it, weight_decay is not also added to the loss.
        opt = keras.optimizers.AdamW(learning_rate, weight_decay=config.weight_decay)
    else:
        opt = keras.optimizers.RMSprop(learning_rate, momentum=config.momentum)
    if config.mixed_precision and keras.config.dtype_policy().name == "mixed_float16":
        opt = keras.optimizers.LossScaleOptimizer(opt)
    return opt


def make_train_step(model, optimizer, config, *, strategy=None):
    """The training step of `fit`: forward, loss, gradients and update on every replica.

    The loss is softmax cross-entropy on the main output (`from_logits` read from the
    model, `kcnn.models.heads.outputs_logits`), with `label_smoothing`, plus
    `aux_loss_weight` times that of each auxiliary head, summed per replica and divided
    by the global batch; plus the model's own losses and, unless the optimizer is AdamW
    (decoupled decay), the L2 term `weight_decay/2·‖w‖²` on kernels, divided by the
    number of replicas (so that the replicas' sum counts them once). With `config.xla`
    the forward and backward pass are compiled with XLA.

    Args:
        model: a `keras.Model` built in `strategy.scope()`; with several outputs, the one
            named "predictions" is the main one.
        optimizer: a built Keras optimizer, made in `strategy.scope()`.
        config: a `TrainConfig`; the step reads `global_batch_size`, `label_smoothing`,
            `aux_loss_weight`, `weight_decay`, `optimizer` and `xla`.
        strategy: a `tf.distribute.Strategy`, or None for the current one.

    Returns:
        A `tf.function` `train_step(images, labels) -> (loss, correct)`: images and
        int labels of one global batch (distributed values under a multi-replica
        strategy); `loss` the batch's mean loss, `correct` the number of top-1 hits of
        the main output, both summed over replicas.

    Example:
    >>> config = TrainConfig(global_batch_size=8)
    >>> model = kcnn.models.lenet5(num_classes=10)
    >>> optimizer = keras.optimizers.SGD(0.01)
    >>> optimizer.build(model.trainable_variables)
    >>> step = make_train_step(model, optimizer, config)
    >>> loss, correct = step(tf.zeros((8, 32, 32, 1)), tf.zeros((8,), tf.int64))
    """
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    from_logits = outputs_logits(model)
    batch = config.global_batch_size
    decayed = ([v for v in model.trainable_variables if "kernel" in v.name]
               if config.optimizer != "adamw" and config.weight_decay else [])

    def cross_entropy_sum(labels, output):
        onehot = tf.one_hot(labels, output.shape[-1])
        return tf.reduce_sum(keras.losses.categorical_crossentropy(
            onehot, tf.cast(output, tf.float32), from_logits=from_logits,
            label_smoothing=config.label_smoothing))

    def grads_fn(images, labels):
        with tf.GradientTape() as tape:
            main, aux = split_outputs(model, model(images, training=True))
            loss = cross_entropy_sum(labels, main) / batch
            for head in aux:
                loss += config.aux_loss_weight * cross_entropy_sum(labels, head) / batch
            if model.losses:
                loss += tf.add_n([tf.cast(x, tf.float32) for x in model.losses]) / replicas
            if decayed:
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
        grads, loss, correct = grads_fn(images, tf.cast(labels, tf.int64))
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, correct

    @tf.function
    def train_step(images, labels):
        loss, correct = strategy.run(step_fn, args=(images, labels))
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.SUM, correct, axis=None))

    return train_step


def make_predict(model):
    """A `tf.function` giving the float32 main output of `model` in inference mode."""
    @tf.function
    def predict(images):
        main, _ = split_outputs(model, model(images, training=False))
        return tf.cast(main, tf.float32)

    return predict


def evaluate(predict, dataset, num_classes, from_logits=True):
    """Loss, top-1 and top-5 accuracy of `predict` over `dataset` (cross-entropy, no smoothing)."""
    loss_sum, top1, top5, count = 0.0, 0, 0, 0
    k = min(5, num_classes)
    for images, labels in dataset:
        logits = predict(images)
        loss_sum += float(tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(
            labels, logits, from_logits=from_logits)))
        top1 += int(tf.reduce_sum(tf.cast(tf.math.in_top_k(labels, logits, 1), tf.int32)))
        top5 += int(tf.reduce_sum(tf.cast(tf.math.in_top_k(labels, logits, k), tf.int32)))
        count += int(labels.shape[0])
    if count == 0:
        return {"loss": None, "top1": None, "top5": None, "count": 0}
    return {"loss": loss_sum / count, "top1": top1 / count, "top5": top5 / count,
            "count": count}
