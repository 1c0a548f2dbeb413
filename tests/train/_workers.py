"""Scripts the distribution and resume tests run in fresh processes.

    python _workers.py mirrored lenet5|syncbn OUT_JSON
    python _workers.py multi_worker OUTPUT_DIR WEIGHTS_NPZ      (TF_CONFIG set by the test)
    python _workers.py resume OUTPUT_DIR
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _weights(model):
    return [v.numpy() for v in model.weights]


def _max_diff(a, b):
    import numpy as np
    return max(float(np.abs(x - y).max()) for x, y in zip(_weights(a), _weights(b)))


def _register_conv_bn_net():
    import keras

    from kcnn.layers import ConvBlock
    from kcnn.models import register_model

    @register_model
    def conv_bn_net(*, input_shape, num_classes, **_):
        """Two ConvBlocks with BatchNorm (as the CIFAR ResNets' units), pooled, dense."""
        inputs = keras.Input(input_shape)
        x = ConvBlock(8, 3, batch_norm=True, name="block1")(inputs)
        x = ConvBlock(16, 3, strides=2, batch_norm=True, name="block2")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, keras.layers.Dense(num_classes, name="predictions")(x))


def mirrored(case, out_json):
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import numpy as np

    from kcnn.train import TrainConfig, fit
    report = {}
    base = TrainConfig(epochs=1, global_batch_size=8, max_steps_per_epoch=3, max_eval_steps=1,
                       validate=False, verbose=0, augment="shift")
    tmp = os.path.dirname(out_json)
    two_cpus = {"strategy": "mirrored", "devices": ["/cpu:0", "/cpu:1"]}
    one_cpu = {"strategy": "one_device", "devices": ["/cpu:0"]}
    # One case per process: two strategies with collective ops in one process can clash.
    if case == "lenet5":
        two = fit(base.replace(output_dir=f"{tmp}/two", **two_cpus))
        one = fit(base.replace(output_dir=f"{tmp}/one", **one_cpu))
        init = fit(base.replace(output_dir=f"{tmp}/init", lr=0.0, **one_cpu))
        report["control_diff"] = _max_diff(one.model, init.model)  # training moved weights
    else:  # Synchronized BatchNorm makes two replicas equal one device.
        # In float64: in float32 the batch variance E[x²] − E[x]² over a different summation
        # order differs by ~1e-4 after one ResNet-20 step (8.9e-10 in float64, measured).
        import keras
        keras.config.set_dtype_policy("float64")
        _register_conv_bn_net()
        config = base.replace(model="conv_bn_net", channels=3, image_size=[16, 16],
                              sync_batch_norm=True, lr=0.1, max_steps_per_epoch=2)
        two = fit(config.replace(output_dir=f"{tmp}/two", **two_cpus))
        one = fit(config.replace(output_dir=f"{tmp}/one", **one_cpu))
        # (A second MirroredStrategy with collective ops in this process would clash.)
        # Control: per-replica variances of 4 examples each differ from the batch's.
        report["control_diff"] = max(float(np.abs(v.numpy() - 1.0).max())
                                     for v in one.model.weights if "moving_variance" in v.path)
    report["replicas"] = [two.num_replicas, one.num_replicas]
    report["max_diff"] = _max_diff(two.model, one.model)
    report["max_rel_diff"] = max(  # |a - b| / (1 + |b|)
        float((np.abs(x - y) / (1.0 + np.abs(y))).max())
        for x, y in zip(_weights(two.model), _weights(one.model)))
    report["worst"] = max((float(np.abs(x.numpy() - y.numpy()).max()), x.path)
                          for x, y in zip(two.model.weights, one.model.weights))[1]
    with open(out_json, "w") as f:
        json.dump(report, f)


def multi_worker(output_dir, weights_npz):
    import numpy as np

    from kcnn.train import TrainConfig, fit
    config = TrainConfig(strategy="multi_worker", epochs=1, global_batch_size=8,
                         max_steps_per_epoch=3, max_eval_steps=1, validate=False, verbose=0,
                         output_dir=output_dir)
    result = fit(config)
    np.savez(weights_npz, replicas=result.num_replicas, *_weights(result.model))


def resume(output_dir):
    import keras

    from kcnn.models import register_model

    @register_model
    def tiny_dropout_bn(*, input_shape, num_classes, **_):
        """Conv + BN + dropout: state that an exact resume must carry (RNG, statistics)."""
        inputs = keras.Input(input_shape)
        x = keras.layers.Conv2D(8, 3, strides=2, name="conv")(inputs)
        x = keras.layers.BatchNormalization(name="bn")(x)
        x = keras.layers.Activation("relu")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        x = keras.layers.Dropout(0.5, name="dropout")(x)
        return keras.Model(inputs, keras.layers.Dense(num_classes, name="predictions")(x))

    from kcnn.train import TrainConfig, fit
    result = fit(TrainConfig(model="tiny_dropout_bn", image_size=[16, 16], channels=1,
                             epochs=2, global_batch_size=16, checkpoint_every=3,
                             validate=False, max_eval_steps=2, verbose=0, output_dir=output_dir))
    print(json.dumps({"resumed_from_step": result.resumed_from_step}))


if __name__ == "__main__":
    {"mirrored": mirrored, "multi_worker": multi_worker, "resume": resume}[sys.argv[1]](
        *sys.argv[2:])
