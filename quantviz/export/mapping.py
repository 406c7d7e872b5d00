"""Find the ONNX node that computes each layer of the traced float graph.

Method, in order:

1. Scope name. The TorchScript exporter names each node after the module path that
   produced it: ``/model/encoder/layer.0/attention/self/query/MatMul`` belongs to layer
   ``encoder.layer.0.attention.self.query`` (``model`` is the export wrapper's attribute).
   A MatMul or Gemm (a Gather for embeddings) in the layer's scope is taken when its
   weight initializer contains exactly the layer's float weight, as stored
   (GPT-2's ``Conv1D``, ``[in, out]``) or transposed (``nn.Linear``, whose ``[out, in]``
   weight the exporter folds into a ``[in, out]`` constant for MatMul).
2. Exact values. A layer whose scope has no such node (another exporter, a renamed scope)
   is matched to the nodes whose weight initializer is bit-for-bit its weight or its
   transpose. Two layers with identical weights cannot be told apart this way, and
   raise QuantvizError.

Either way the match is confirmed by comparing every value, so a wrong mapping cannot
pass silently.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from quantviz.errors import QuantvizError
from quantviz.model.layers import get_module

WRAPPER_SCOPE = "model"
_MATMUL_OPS = ("MatMul", "Gemm")


@dataclass(frozen=True)
class LayerNode:
    """One graph node that computes a layer.

    ``node`` is the node's name (the exporter may leave it empty) and ``output`` its first
    output, which identifies it. ``weight_input`` is the index of the node input that
    carries the weight (1 for the B input of MatMul and Gemm, 0 for Gather's data).
    ``transposed`` is True when the graph stores the weight transposed relative to the
    torch module's ``weight``.
    """

    layer: str
    node: str
    output: str
    op_type: str
    weight_input: int
    initializer: str
    transposed: bool
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "node": self.node,
            "output": self.output,
            "op_type": self.op_type,
            "weight_input": self.weight_input,
            "initializer": self.initializer,
            "transposed": self.transposed,
            "method": self.method,
        }


def scope_of(node_name: str) -> str | None:
    """Return the module path encoded in a TorchScript node name, or None for other names."""
    parts = node_name.strip("/").split("/")
    if len(parts) < 3 or parts[0] != WRAPPER_SCOPE:
        return None
    return ".".join(parts[1:-1])


def _digest(array: np.ndarray) -> tuple[tuple[int, ...], str, str]:
    data = np.ascontiguousarray(array)
    return data.shape, str(data.dtype), hashlib.sha256(data.tobytes()).hexdigest()


def _orientation(graph_weight: np.ndarray, weight: np.ndarray) -> bool | None:
    """False when the graph stores ``weight`` as is, True when transposed, else None."""
    if graph_weight.shape == weight.shape and np.array_equal(graph_weight, weight):
        return False
    transposed = weight.ndim == 2 and graph_weight.shape == weight.T.shape
    if transposed and np.array_equal(graph_weight, weight.T):
        return True
    return None


class _Candidates:
    """MatMul, Gemm and Gather nodes whose weight input is an initializer."""

    def __init__(self, model: onnx.ModelProto) -> None:
        initializers = {tensor.name: tensor for tensor in model.graph.initializer}
        self.by_scope: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
        self.nodes: list[tuple[onnx.NodeProto, int]] = []
        self.initializers = initializers
        self._arrays: dict[str, np.ndarray] = {}
        self._by_digest: dict[tuple[tuple[int, ...], str, str], list[tuple[Any, int]]] | None = None
        for node in model.graph.node:
            if node.op_type in _MATMUL_OPS:
                index = 1
            elif node.op_type == "Gather":
                index = 0
            else:
                continue
            if len(node.input) <= index or node.input[index] not in initializers:
                continue
            self.nodes.append((node, index))
            scope = scope_of(node.name)
            if scope is not None:
                self.by_scope.setdefault(scope, []).append((node, index))

    def array(self, name: str) -> np.ndarray:
        if name not in self._arrays:
            self._arrays[name] = numpy_helper.to_array(self.initializers[name])
        return self._arrays[name]

    def by_digest(self, digest: tuple[tuple[int, ...], str, str]) -> list[tuple[Any, int]]:
        if self._by_digest is None:
            self._by_digest = {}
            for node, index in self.nodes:
                key = _digest(self.array(node.input[index]))
                self._by_digest.setdefault(key, []).append((node, index))
        return self._by_digest.get(digest, [])


def _expected_ops(kind: str) -> tuple[str, ...]:
    return ("Gather",) if kind == "embedding" else _MATMUL_OPS


def map_layers(
    model: onnx.ModelProto, loaded: Any, names: list[str]
) -> tuple[dict[str, list[LayerNode]], list[str]]:
    """Map each layer in ``names`` to the graph nodes that compute it.

    Returns the mapping, in ``names`` order, with usually one node per layer (a module
    called twice has two). Also returns the layers that have no node in the graph, such
    as BERT's pooler when only the hidden states are exported. The weights compared are the
    module's current ``weight`` values, so call this on the model as it was traced.
    """
    candidates = _Candidates(model)
    mapping: dict[str, list[LayerNode]] = {}
    missing: list[str] = []
    claimed: dict[str, str] = {}
    weights: dict[str, np.ndarray] = {}
    for name in names:
        info = loaded.layer(name)
        weight = get_module(loaded.module, name).weight.detach().float().cpu().numpy()
        weights[name] = weight
        ops = _expected_ops(info.kind)
        found: list[LayerNode] = []
        for node, index in candidates.by_scope.get(name, []):
            if node.op_type not in ops:
                continue
            transposed = _orientation(candidates.array(node.input[index]), weight)
            if transposed is not None:
                found.append(
                    LayerNode(
                        name,
                        node.name,
                        node.output[0],
                        node.op_type,
                        index,
                        node.input[index],
                        transposed,
                        "scope",
                    )
                )
        if not found:
            found = _match_by_values(candidates, name, weight, ops)
        if not found:
            missing.append(name)
            continue
        for item in found:
            if item.output in claimed:
                raise QuantvizError(
                    f"layers {claimed[item.output]} and {name} both match the graph node "
                    f"that computes {item.output}; their weights are identical, so the export "
                    "cannot tell which scales belong to the node. Give both layers the same "
                    "plan settings or keep one of them in float."
                )
            claimed[item.output] = name
        mapping[name] = found
    _check_value_matches_unique(mapping, weights)
    return mapping, missing


def _match_by_values(
    candidates: _Candidates, name: str, weight: np.ndarray, ops: tuple[str, ...]
) -> list[LayerNode]:
    variants = [(False, weight)]
    if weight.ndim == 2:
        variants.append((True, weight.T))
    found = []
    for transposed, array in variants:
        for node, index in candidates.by_digest(_digest(array)):
            if node.op_type not in ops:
                continue
            if _orientation(candidates.array(node.input[index]), weight) != transposed:
                continue
            found.append(
                LayerNode(
                    name,
                    node.name,
                    node.output[0],
                    node.op_type,
                    index,
                    node.input[index],
                    transposed,
                    "values",
                )
            )
    return found


def _check_value_matches_unique(
    mapping: dict[str, list[LayerNode]], weights: dict[str, np.ndarray]
) -> None:
    """Raise when a value-matched layer has a twin with identical weights."""
    value_matched = [name for name, nodes in mapping.items() if nodes[0].method == "values"]
    if not value_matched:
        return
    digests: dict[tuple[tuple[int, ...], str, str], str] = {}
    for name, weight in weights.items():
        key = _digest(weight)
        other = digests.get(key)
        if other is not None and (name in value_matched or other in value_matched):
            raise QuantvizError(
                f"layers {other} and {name} have identical weights and their graph nodes "
                "carry no module scope, so the export cannot tell them apart; export with "
                "the TorchScript exporter, which names nodes after their modules"
            )
        digests[key] = name
