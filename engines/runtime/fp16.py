"""Mixed-precision copy of an exported graph: the fully connected layers in float16.

TensorRT 11 builds strongly typed networks only (the FP16 builder flag is gone): a layer runs
in float16 only if the ONNX graph says so. This rewrites the graph so the MLPs (``Gemm``,
``MatMul``, ``BatchNormalization``, ``Relu`` and the residual ``Add`` between them) compute in
float16 while the 2D normalisation, the depth model and the graph's inputs and outputs stay
float32 (they are cheap and sensitive to rounding). Casts are inserted at the boundaries;
float32 initialisers feeding float16 nodes are stored as float16. Nodes keep their order (the
exported graph is topologically sorted and every Cast is placed just before its first use).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Ops that may run in float16 (an ``Add`` only when both its inputs already are float16).
FP16_OPS = frozenset({"Gemm", "MatMul", "BatchNormalization", "Relu", "LeakyRelu"})


def convert_mlp_to_fp16(model: Any) -> Any:
    """Return a new ``onnx.ModelProto`` with the MLP layers in float16 (input not modified)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    half_of: dict[str, str] = {}  # float32 tensor name → its float16 twin
    fp16_outputs: set[str] = set()  # outputs of converted nodes (float16, renamed)
    new_nodes: list[Any] = []
    new_inits: list[Any] = []

    def to_half(name: str) -> str:
        if name in half_of:
            return half_of[name]
        half = f"{name}__fp16"
        init = inits.get(name)
        if init is not None and init.data_type == onnx.TensorProto.FLOAT:
            new_inits.append(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), half))
        else:
            new_nodes.append(helper.make_node("Cast", [name], [half], to=onnx.TensorProto.FLOAT16))
        half_of[name] = half
        return half

    def to_float(half: str) -> str:
        name = half.removesuffix("__fp16")
        if name not in produced_fp32:
            new_nodes.append(helper.make_node("Cast", [half], [name], to=onnx.TensorProto.FLOAT))
            produced_fp32.add(name)
        return name

    produced_fp32: set[str] = set()
    for node in graph.node:
        inputs = list(node.input)
        is_half = node.op_type in FP16_OPS or (
            node.op_type == "Add" and inputs and all(f"{i}__fp16" in fp16_outputs for i in inputs)
        )
        if is_half:
            for k, name in enumerate(inputs):
                if name:
                    inputs[k] = f"{name}__fp16" if f"{name}__fp16" in fp16_outputs else to_half(name)
            outputs = [f"{o}__fp16" for o in node.output]
            fp16_outputs.update(outputs)
            for o in node.output:
                half_of[o] = f"{o}__fp16"
            new_node = helper.make_node(node.op_type, inputs, outputs, name=node.name, domain=node.domain)
            new_node.attribute.extend(node.attribute)
            new_nodes.append(new_node)
        else:
            for k, name in enumerate(inputs):
                if f"{name}__fp16" in fp16_outputs:
                    inputs[k] = to_float(f"{name}__fp16")
            del node.input[:]
            node.input.extend(inputs)
            new_nodes.append(node)
            produced_fp32.update(node.output)
    for out in graph.output:
        if f"{out.name}__fp16" in fp16_outputs:
            to_float(f"{out.name}__fp16")
    del graph.node[:]
    graph.node.extend(new_nodes)
    used = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept + new_inits)
    del graph.value_info[:]
    return model
