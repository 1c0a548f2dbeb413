"""The main-output rule: which output is the main one, logits or probabilities."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn.models.heads import (ends_in_softmax, inference_model, output_names,
                               outputs_logits, split_outputs)


def test_googlenet_aux_heads_dropped_and_split():
    model = kcnn.models.googlenet(input_shape=(65, 65, 3), num_classes=3, aux_logits=True)
    assert output_names(model) == ["predictions", "aux1", "aux2"]
    head = inference_model(model)
    assert output_names(head) == ["predictions"] and head.name == model.name
    assert head.get_layer("predictions") is model.get_layer("predictions")  # shared
    x = np.random.default_rng(0).standard_normal((1, 65, 65, 3)).astype("float32")
    outputs = model(x, training=False)
    main, aux = split_outputs(model, outputs)
    assert main is outputs[0] and len(aux) == 2
    np.testing.assert_allclose(np.asarray(head(x, training=False)), np.asarray(main),
                               atol=1e-6, rtol=0)
    assert outputs_logits(model) and not ends_in_softmax(model)
    single = kcnn.models.lenet5()
    assert inference_model(single) is single
    assert split_outputs(single, "y") == ("y", [])


def _toy(names, as_dict=False, activation=None):
    inputs = keras.Input((4,))
    tensors = [keras.layers.Dense(3, activation=activation, name=n)(inputs) for n in names]
    return keras.Model(inputs, dict(zip(names, tensors)) if as_dict else tensors)


def test_main_output_by_name_in_lists_and_dicts():
    listed = _toy(["aux", "predictions"])
    main, aux = split_outputs(listed, ["a", "p"])
    assert (main, aux) == ("p", ["a"])
    keyed = _toy(["aux", "predictions"], as_dict=True)
    main, aux = split_outputs(keyed, {"aux": "a", "predictions": "p"})
    assert (main, aux) == ("p", ["a"])
    assert output_names(inference_model(keyed)) == ["predictions"]
    with pytest.raises(ValueError, match=r"2 outputs \['a', 'b'\]; one of them must be "
                                         r"named 'predictions'"):
        inference_model(_toy(["a", "b"]))


def test_main_output_decides_logits_or_probabilities():
    assert not outputs_logits(_toy(["aux", "predictions"], activation="softmax"))
    assert outputs_logits(_toy(["predictions"], activation="softmax"), "logits")
    assert not outputs_logits(_toy(["predictions"]), "probabilities")
    with pytest.raises(ValueError, match="`model_outputs` must be one of"):
        outputs_logits(_toy(["predictions"]), "probs")


@pytest.mark.parametrize("build, softmax", [
    (lambda: kcnn.models.lenet5(), False),
    (lambda: kcnn.models.lenet5(classifier_activation="softmax"), True),
    (lambda: kcnn.models.nin(), False),
    (lambda: kcnn.models.nin(classifier_activation="softmax"), True),
    (lambda: keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                               keras.layers.Dense(3), keras.layers.Softmax()]), True),
    (lambda: keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                               keras.layers.Dense(3, activation="relu")]), False),
])
def test_softmax_is_detected_from_the_last_activation(build, softmax):
    model = build()
    assert ends_in_softmax(model) is softmax
    assert outputs_logits(model) is not softmax


def test_the_rule_needs_keras_only():
    import ast
    import kcnn.models.heads as heads
    tree = ast.parse(open(heads.__file__).read())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in (node.names if isinstance(node, ast.Import) else
                              [ast.alias(node.module or "")])}
    assert imported == {"keras"}
