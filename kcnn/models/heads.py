"""A model's main output: which output it is, and whether it is logits or probabilities.

The rules, in one place for the trainer and the exporter:

- **Main output.** A model with one output: that one. With several (GoogLeNet with
  `aux_logits=True`: `["predictions", "aux1", "aux2"]`): the one named `"predictions"`
  (the dict key, or the name of the layer that produces it); the others are auxiliary
  heads, used in training only. Several outputs and none named so is an error.
- **Logits or probabilities.** The main output is probabilities exactly when it ends in
  a softmax (`ends_in_softmax`); anything else is logits (kcnn's builders give logits
  unless `classifier_activation` is set).

Keras only (no TensorFlow), as the builders.
"""

import keras

MAIN_OUTPUT = "predictions"
MODEL_OUTPUTS = ("auto", "logits", "probabilities")

# Layers that pass their input's nature (logits or probabilities) through unchanged.
_PASS_THROUGH = (keras.layers.Flatten, keras.layers.Reshape, keras.layers.Dropout,
                 keras.layers.Identity, keras.layers.GlobalAveragePooling2D)


def _structure(model):
    """`model.output`: a tensor, or a list or dict of them, as the model was built."""
    try:
        return model.output
    except AttributeError:  # a Sequential model: it has one output
        return model.outputs[0]


def output_names(model):
    """The names of a functional model's outputs: dict keys, else output layer names."""
    structure = _structure(model)
    if isinstance(structure, dict):
        return list(structure)
    return [t._keras_history.operation.name for t in model.outputs]


def _main_position(model):
    """None for a single output; else the dict key or list index of the main output."""
    structure = _structure(model)
    if not isinstance(structure, (dict, list, tuple)):
        return None
    names = output_names(model)
    if len(names) == 1:
        return names[0] if isinstance(structure, dict) else 0
    if MAIN_OUTPUT not in names:
        raise ValueError(
            f"Model {model.name!r} has {len(names)} outputs {names}; one of them must be "
            f"named {MAIN_OUTPUT!r} (the class predictions; the others are auxiliary heads, "
            "used in training only).")
    return MAIN_OUTPUT if isinstance(structure, dict) else names.index(MAIN_OUTPUT)


def split_outputs(model, outputs):
    """(main, [auxiliary, ...]) of `outputs`, the result of calling `model`.

    Args:
        model: a functional `keras.Model`.
        outputs: what `model(x)` returned (a tensor, a list or a dict, as `model.output`).

    Returns:
        The main output and the list of the others, in output order.
    """
    position = _main_position(model)
    if position is None:
        return outputs, []
    if isinstance(outputs, dict):
        return outputs[position], [v for k, v in outputs.items() if k != position]
    return outputs[position], [v for i, v in enumerate(outputs) if i != position]


def inference_model(model):
    """The model restricted to its main output (auxiliary heads dropped).

    Args:
        model: a built functional `keras.Model`.

    Returns:
        `model` itself when it has one output, else a `keras.Model` with the same name
        and inputs that shares its layers and outputs only the main output.

    Example:
    >>> model = kcnn.models.googlenet(input_shape=(65, 65, 3), num_classes=10,
    ...                               aux_logits=True)
    >>> inference_model(model).output_names
    ['predictions']
    """
    structure = _structure(model)
    if not isinstance(structure, (dict, list, tuple)):
        return model
    main, _ = split_outputs(model, structure)
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, main, name=model.name)


def ends_in_softmax(model):
    """Whether the model's main output is a softmax (probabilities).

    Follows the main output back through shape-only layers (Flatten, Reshape, Dropout,
    Identity, global average pooling), linear activations and nested models to the first
    layer with an activation: `True` when that is softmax (a `Softmax` layer, an
    `Activation("softmax")` or a layer built with `activation="softmax"`), `False`
    otherwise (logits).
    """
    tensor, _ = split_outputs(model, _structure(model))
    while True:
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            return False
        layer = history.operation
        if isinstance(layer, keras.layers.Softmax):
            return True
        if isinstance(layer, keras.Model) and len(layer.outputs) == 1:
            tensor = layer.outputs[0]
            continue
        if isinstance(layer, _PASS_THROUGH):
            tensor = layer._inbound_nodes[history.node_index].input_tensors[0]
            continue
        if hasattr(layer, "activation"):
            try:
                activation = keras.activations.get(layer.activation)
            except (ValueError, TypeError):
                return False
            if activation is keras.activations.linear and isinstance(
                    layer, keras.layers.Activation):
                tensor = layer._inbound_nodes[history.node_index].input_tensors[0]
                continue
            return activation is keras.activations.softmax
        return False


def outputs_logits(model, model_outputs="auto"):
    """Whether the model's main output is logits, so that a softmax must be applied.

    The one decision behind the trainer's `from_logits` and the exported signatures'
    softmax.

    Args:
        model: a functional `keras.Model`.
        model_outputs: "auto" (read from the model: logits unless `ends_in_softmax`),
            "logits" or "probabilities" (what the caller knows it outputs). Defaults to
            "auto".

    Returns:
        bool.
    """
    if model_outputs not in MODEL_OUTPUTS:
        raise ValueError(f"`model_outputs` must be one of {MODEL_OUTPUTS}; got "
                         f"model_outputs={model_outputs!r}.")
    if model_outputs == "auto":
        return not ends_in_softmax(model)
    return model_outputs == "logits"
