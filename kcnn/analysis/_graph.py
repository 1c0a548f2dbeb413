"""Walks a Keras graph node by node, looking inside composite layers.

A layer with no rule in `_rules` (ConvBlock, InceptionBlock, a nested model, a user's
own block) is looked inside generically: its `call` is re-run on fresh symbolic
`keras.Input`s of the shapes it received, which records the keras layers and ops it
is made of as a small graph; that graph is walked the same way, recursively.
"""

import inspect
from typing import NamedTuple

import keras

from kcnn.analysis._rules import rule_for


class NodeResult(NamedTuple):
    macs: int          # MACs counted inside this node
    uncounted: tuple   # names of the parts whose MACs are not counted
    fields: list       # one Field (or None) per output tensor


def walk(inputs, nodes_by_depth, input_fields, visit=None, prefix=""):
    """Propagates fields through a graph; returns `(macs, uncounted, output fields by id)`.

    Args:
        inputs: the graph's input tensors.
        nodes_by_depth: `{depth: [Node]}` as Keras's `Function` keeps it.
        input_fields: one Field (or None) per input.
        visit: called as `visit(node, NodeResult)` for each node, in order.
        prefix: prepended to the names of uncounted parts.
    """
    fields = {id(t): f for t, f in zip(inputs, input_fields)}
    macs, uncounted = 0, []
    for depth in sorted(nodes_by_depth, reverse=True):
        for node in nodes_by_depth[depth]:
            if node.is_input or node.operation is None:
                continue
            in_fields = [fields.get(id(t)) for t in node.input_tensors]
            result = analyze_node(node, in_fields, prefix)
            for tensor, field in zip(node.outputs, result.fields):
                fields[id(tensor)] = field
            macs += result.macs
            uncounted.extend(result.uncounted)
            if visit is not None:
                visit(node, result)
    return macs, tuple(uncounted), fields


def analyze_node(node, in_fields, prefix=""):
    op = node.operation
    name = prefix + op.name
    rule = rule_for(op)
    if rule is not None:
        macs, field = rule(op, node, in_fields)
        return NodeResult(macs or 0, () if macs is not None else (name,),
                          [field] * len(node.outputs))
    graph = trace(node)
    if graph is None:
        return NodeResult(0, (name,), [None] * len(node.outputs))
    inner_inputs, inner_outputs, nodes_by_depth = graph
    macs, uncounted, fields = walk(inner_inputs, nodes_by_depth, in_fields,
                                   prefix=name + "/")
    return NodeResult(macs, uncounted, [fields.get(id(t)) for t in inner_outputs])


def trace(node):
    """Re-runs `node.operation.call` on fresh symbolic inputs; `None` if that fails.

    Returns:
        `(inputs, outputs, nodes_by_depth)`, inputs in the order of `node.input_tensors`.
    """
    op = node.operation
    if not isinstance(op, keras.layers.Layer) or not op.built:
        return None
    fresh = {id(t): keras.Input(batch_shape=t.shape, dtype=t.dtype)
             for t in node.input_tensors}

    def replace(x):
        return fresh.get(id(x), x) if isinstance(x, keras.KerasTensor) else x

    args = keras.tree.map_structure(replace, node.arguments.args)
    kwargs = keras.tree.map_structure(replace, dict(node.arguments.kwargs))
    try:
        parameters = inspect.signature(op.call).parameters
    except (TypeError, ValueError):
        parameters = {}
    if "training" in parameters:
        kwargs["training"] = False
    try:
        outputs = keras.tree.flatten(op.call(*args, **kwargs))
        inputs = [fresh[id(t)] for t in node.input_tensors]
        function = keras.Function(inputs, outputs)
    except Exception:  # noqa: BLE001 - any failure means "cannot look inside"
        return None
    return inputs, outputs, function._nodes_by_depth
