"""The pieces of the training loop: outputs, optimizer, evaluation, TensorBoard scalars."""

import keras
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

MAIN_OUTPUT = "predictions"
_SCALAR_META = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
).SerializeToString()


def scalar(tag, value, step):
    """A TensorBoard scalar through `tf.summary.write` (no `tensorboard` package needed)."""
    tf.summary.write(tag, tf.constant(value, tf.float32), step=step, metadata=_SCALAR_META)


def split_outputs(outputs_, names):
    """(main, [aux...]) of a model's outputs; the main one is named "predictions"."""
    if isinstance(outputs_, dict):
        key = MAIN_OUTPUT if MAIN_OUTPUT in outputs_ else names[0]
        return outputs_[key], [v for k, v in outputs_.items() if k != key]
    if isinstance(outputs_, (list, tuple)):
        index = names.index(MAIN_OUTPUT) if MAIN_OUTPUT in names else 0
        return outputs_[index], [v for i, v in enumerate(outputs_) if i != index]
    return outputs_, []


def inference_model(model):
    """The model without its auxiliary heads (the one output named "predictions")."""
    if len(model.outputs) == 1:
        return model
    names = list(model.output_names)
    index = names.index(MAIN_OUTPUT) if MAIN_OUTPUT in names else 0
    return keras.Model(model.inputs, model.outputs[index], name=model.name)


def make_optimizer(config, schedule):
    if config.optimizer == "sgd":
        opt = keras.optimizers.SGD(schedule, momentum=config.momentum, nesterov=config.nesterov)
    elif config.optimizer == "adam":
        opt = keras.optimizers.Adam(schedule)
    elif config.optimizer == "adamw":
        # AdamW's decay is decoupled; with it, weight_decay is not also added to the loss.
        opt = keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay)
    else:
        opt = keras.optimizers.RMSprop(schedule, momentum=config.momentum)
    if config.mixed_precision and keras.config.dtype_policy().name == "mixed_float16":
        opt = keras.optimizers.LossScaleOptimizer(opt)
    return opt


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
