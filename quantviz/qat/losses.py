"""Model outputs that QAT trains on, and its losses."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from quantviz.analysis.evaluation import mean_pool

LOSS_NAMES = {"kl": "kl", "cosine": "cosine", "none": "cross_entropy"}


def model_inputs(task: str, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Keyword arguments for the model's forward; causal LMs skip building a KV cache."""
    if task == "causal_lm":
        return {**batch, "use_cache": False}
    return dict(batch)


def forward_features(
    module: nn.Module, task: str, batch: dict[str, torch.Tensor], features: str
) -> torch.Tensor:
    """Run ``module`` on ``batch``; return float32 logits or mean-pooled final hidden states.

    ``features`` is ``"logits"`` (causal LMs, ``[batch, tokens, vocab]``) or ``"pooled"``
    (``[batch, hidden]``, averaged over unmasked tokens as sentence-transformers pools).
    """
    if features == "logits":
        return module(**model_inputs(task, batch)).logits.float()
    if task == "causal_lm":
        output = module(**model_inputs(task, batch), output_hidden_states=True)
        hidden = output.hidden_states[-1]
    else:
        hidden = module(**model_inputs(task, batch)).last_hidden_state
    return mean_pool(hidden.float(), batch.get("attention_mask"))


def features_for(loss: str) -> str:
    """Which output the loss ``"kl"``, ``"cosine"`` or ``"none"`` needs."""
    return "pooled" if loss == "cosine" else "logits"


def kl_distillation(
    student: torch.Tensor,
    teacher: torch.Tensor,
    mask: torch.Tensor | None,
    temperature: float,
) -> torch.Tensor:
    """Mean over unmasked positions of KL(teacher || student) on softmax(logits / T), times T².

    Multiplying by ``T**2`` keeps the gradient size independent of the temperature
    (Hinton et al. 2015, "Distilling the Knowledge in a Neural Network").
    """
    log_q = torch.log_softmax(student / temperature, dim=-1)
    log_p = torch.log_softmax(teacher / temperature, dim=-1)
    per_position = F.kl_div(log_q, log_p, log_target=True, reduction="none").sum(dim=-1)
    return _masked_mean(per_position, mask) * temperature**2


def cosine_distillation(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Mean over sequences of 1 - cosine similarity between pooled embeddings."""
    return (1.0 - F.cosine_similarity(student, teacher, dim=-1)).mean()


def next_token_loss(logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy of each next token, averaged over tokens whose position is unmasked."""
    input_ids = batch["input_ids"]
    targets = input_ids[:, 1:]
    mask = batch.get("attention_mask")
    if mask is not None:
        targets = targets.masked_fill(mask[:, 1:] == 0, -100)
    return F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100
    )


def _masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return values.mean()
    weights = mask.to(values.dtype)
    return (values * weights).sum() / weights.sum().clamp_min(1.0)
