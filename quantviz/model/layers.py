"""Discovery of the quantizable layers of a torch module.

A quantizable layer is a module whose weight is multiplied with an activation: ``nn.Linear``,
transformers' GPT-2 style ``Conv1D``, ``nn.Conv1d`` and ``nn.Conv2d``. Embeddings and the
language-model head are opt-in, because quantizing them changes every token's vector and
every logit, and most deployment recipes keep them in higher precision.

Layer names are the module paths from ``named_modules()`` (for example
``model.layers.3.mlp.down_proj``), so a name stays the same across loads of the same
architecture and can be looked up again with :func:`get_module`.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from typing import Any

from torch import nn
from transformers.pytorch_utils import Conv1D

from quantviz.errors import QuantvizError

logger = logging.getLogger(__name__)

LAYER_KINDS = ("linear", "conv1d_gpt2", "conv1d", "conv2d", "embedding", "lm_head")

# Weight-carrying modules that are not quantizable layers here. They are skipped without a
# log line per module, because every transformer has dozens of them.
_NORMALIZATION_TYPES: tuple[type[nn.Module], ...] = (
    nn.LayerNorm,
    nn.GroupNorm,
    nn.RMSNorm,
    nn.modules.batchnorm._BatchNorm,
)


@dataclass
class LayerInfo:
    """One quantizable layer of a model.

    ``weight_shape`` is the shape of the stored weight tensor. ``out_axis`` is the axis of
    that tensor that indexes output channels (0 for ``nn.Linear``, convolutions and
    embeddings, 1 for GPT-2's ``Conv1D``, which stores ``[in, out]``), and ``in_axis`` is the
    axis that indexes input features (the axis that per-group quantization splits).
    ``num_params`` counts the weight and the bias. ``tied_to`` names another module that
    shares this layer's weight Parameter, which is then listed only once.
    """

    name: str
    kind: str
    weight_shape: tuple[int, ...]
    out_axis: int
    in_axis: int
    num_params: int
    has_bias: bool
    tied_to: str | None = None
    opt_in: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict; :meth:`from_dict` reverses it."""
        return {
            "name": self.name,
            "kind": self.kind,
            "weight_shape": list(self.weight_shape),
            "out_axis": self.out_axis,
            "in_axis": self.in_axis,
            "num_params": self.num_params,
            "has_bias": self.has_bias,
            "tied_to": self.tied_to,
            "opt_in": self.opt_in,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerInfo:
        """Build a LayerInfo from :meth:`to_dict` output.

        Raises QuantvizError when a required key is missing or the kind is unknown.
        """
        required = ("name", "kind", "weight_shape", "out_axis", "in_axis", "num_params")
        missing = [key for key in required if key not in data]
        if missing:
            raise QuantvizError(
                f"layer record {data.get('name', '<unnamed>')!r} is missing the keys "
                f"{', '.join(missing)}; save layer records with LayerInfo.to_dict()"
            )
        if data["kind"] not in LAYER_KINDS:
            raise QuantvizError(
                f"layer {data['name']!r} has the unknown kind {data['kind']!r}; "
                f"expected one of {', '.join(LAYER_KINDS)}"
            )
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            weight_shape=tuple(int(size) for size in data["weight_shape"]),
            out_axis=int(data["out_axis"]),
            in_axis=int(data["in_axis"]),
            num_params=int(data["num_params"]),
            has_bias=bool(data.get("has_bias", False)),
            tied_to=data.get("tied_to"),
            opt_in=bool(data.get("opt_in", False)),
        )


def _classify(module: nn.Module) -> tuple[str, int, int] | None:
    """Return (kind, out_axis, in_axis) for a supported module type, else None.

    The LM head is classified by the caller, because it is an ordinary ``nn.Linear``.
    """
    # Conv1D from transformers computes x @ W with W stored as [in, out].
    if isinstance(module, Conv1D):
        return "conv1d_gpt2", 1, 0
    if isinstance(module, nn.Linear):
        return "linear", 0, 1
    # Convolution weights are [out, in / groups, *kernel]. Subclasses of nn.Conv1d and
    # nn.Conv2d (for example ConvTranspose) are not matched, because their weights are
    # [in, out / groups, *kernel].
    if type(module) is nn.Conv1d:
        return "conv1d", 0, 1
    if type(module) is nn.Conv2d:
        return "conv2d", 0, 1
    if isinstance(module, nn.Embedding):
        return "embedding", 0, 1
    return None


def _output_embeddings(module: nn.Module) -> nn.Module | None:
    """Return the module that ``get_output_embeddings()`` reports, if the model has one."""
    getter = getattr(module, "get_output_embeddings", None)
    if getter is None:
        return None
    try:
        head = getter()
    except (AttributeError, NotImplementedError):
        return None
    return head if isinstance(head, nn.Module) else None


def _is_normalization(module: nn.Module) -> bool:
    # Model code often defines its own norm classes (LlamaRMSNorm, T5LayerNorm), which only
    # the class name identifies.
    return isinstance(module, _NORMALIZATION_TYPES) or "norm" in type(module).__name__.lower()


def _has_weight(module: nn.Module) -> bool:
    weight = getattr(module, "weight", None)
    return isinstance(weight, nn.Parameter)


def discover_layers(
    module: nn.Module,
    *,
    include_embeddings: bool = False,
    include_lm_head: bool = False,
) -> list[LayerInfo]:
    """List the quantizable layers of ``module`` in ``named_modules()`` order.

    ``include_embeddings`` adds ``nn.Embedding`` modules and ``include_lm_head`` adds the
    module returned by ``get_output_embeddings()``. A weight Parameter that several modules
    share (an LM head tied to the token embedding) is listed once, under the first included
    module in module order, with ``tied_to`` naming the other module. The shared weight is
    never untied, so quantizing it affects both uses. Skipped layers and tied weights are
    logged at INFO level.
    """
    lm_head = _output_embeddings(module)

    # Pass 1: find every module that owns a weight and group them by Parameter identity, so
    # a tie is found even when one side of it is excluded.
    names_by_weight: dict[int, list[str]] = {}
    for name, child in module.named_modules():
        if _has_weight(child):
            names_by_weight.setdefault(id(child.weight), []).append(name)

    layers: list[LayerInfo] = []
    listed_weights: dict[int, str] = {}
    num_normalization = 0
    for name, child in module.named_modules():
        if not _has_weight(child):
            continue
        classified = _classify(child)
        if classified is None and _is_normalization(child):
            num_normalization += 1
            continue
        if classified is None:
            logger.info(
                "skipping %s: module type %s is not a supported layer type",
                name,
                type(child).__name__,
            )
            continue
        kind, out_axis, in_axis = classified
        if lm_head is not None and child is lm_head:
            kind = "lm_head"

        weight = child.weight
        if not weight.is_floating_point():
            logger.info("skipping %s: its weight has the non-float dtype %s", name, weight.dtype)
            continue

        partners = [other for other in names_by_weight[id(weight)] if other != name]
        if kind == "embedding" and not include_embeddings:
            logger.info("skipping %s: embeddings are opt-in (include_embeddings=True)", name)
            continue
        if kind == "lm_head" and not include_lm_head:
            tie_note = f", its weight is tied to {partners[0]}" if partners else ""
            logger.info(
                "skipping %s: the LM head is opt-in (include_lm_head=True)%s", name, tie_note
            )
            continue
        if id(weight) in listed_weights:
            logger.info(
                "skipping %s: its weight is tied to %s, which is listed already",
                name,
                listed_weights[id(weight)],
            )
            continue

        tied_to = partners[0] if partners else None
        if tied_to is not None:
            logger.info("layer %s shares its weight Parameter with %s", name, tied_to)
        bias = getattr(child, "bias", None)
        has_bias = isinstance(bias, nn.Parameter)
        num_params = weight.numel() + (bias.numel() if has_bias else 0)
        layers.append(
            LayerInfo(
                name=name,
                kind=kind,
                weight_shape=tuple(weight.shape),
                out_axis=out_axis,
                in_axis=in_axis,
                num_params=num_params,
                has_bias=has_bias,
                tied_to=tied_to,
                opt_in=kind in ("embedding", "lm_head"),
            )
        )
        listed_weights[id(weight)] = name

    if num_normalization:
        logger.debug("skipped %d normalization modules, which are not quantized", num_normalization)
    return layers


def get_module(root: nn.Module, name: str) -> nn.Module:
    """Return the submodule of ``root`` at the qualified name ``name``.

    An empty name returns ``root``. Raises QuantvizError naming the missing module and the
    closest existing names.
    """
    try:
        return root.get_submodule(name)
    except AttributeError:
        known = [module_name for module_name, _ in root.named_modules() if module_name]
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise QuantvizError(
            f"the model has no module named {name!r}.{hint}"
            " Layer names are module paths as listed by discover_layers()."
        ) from None
