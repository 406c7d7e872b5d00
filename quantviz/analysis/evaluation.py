"""Model outputs and how far a quantized model's outputs are from the float model's.

Causal LMs are compared by logits (KL divergence, next-token perplexity); encoders by
mean-pooled embeddings (cosine similarity), the pooling sentence-transformers uses for
MiniLM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from quantviz.analysis.metrics import cosine_rows, kl_divergence_logits


def model_output(loaded: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Logits ``[batch, tokens, vocab]`` (causal LM) or pooled embeddings ``[batch, hidden]``."""
    with torch.inference_mode():
        output = loaded.module(**batch)
    if loaded.task == "causal_lm":
        return output.logits.float()
    return mean_pool(output.last_hidden_state.float(), batch.get("attention_mask"))


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Average token vectors over real (unmasked) tokens."""
    if mask is None:
        return hidden.mean(dim=1)
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def token_nll(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of each next token, ``[batch, tokens - 1]``, float64."""
    log_probs = torch.log_softmax(logits[:, :-1].double(), dim=-1)
    return -log_probs.gather(-1, input_ids[:, 1:, None]).squeeze(-1)


@dataclass
class ReferenceTerms:
    """Float-output terms of one causal-LM batch that every comparison against it reuses:
    log-probabilities and probabilities (float64) and the batch's summed next-token NLL."""

    log_p: torch.Tensor
    p: torch.Tensor
    nll_sum: float

    @classmethod
    def of(cls, reference: torch.Tensor, batch: dict[str, torch.Tensor]) -> ReferenceTerms:
        log_p = torch.log_softmax(reference.double(), dim=-1)
        nll = -log_p[:, :-1].gather(-1, batch["input_ids"][:, 1:, None])
        return cls(log_p, log_p.exp(), float(nll.sum()))


@dataclass
class OutputComparison:
    """Running comparison of quantized against float outputs over several batches."""

    task: str
    kl_sum: float = 0.0
    positions: int = 0
    nll_float: float = 0.0
    nll_quant: float = 0.0
    cosine_sum: float = 0.0
    cosine_min: float = 1.0
    sequences: int = 0
    predicted: int = 0

    def add(
        self,
        reference: torch.Tensor,
        output: torch.Tensor,
        batch: dict[str, torch.Tensor],
        terms: ReferenceTerms | None = None,
    ) -> None:
        """Add one batch; ``terms`` (causal LMs) saves recomputing the reference's part
        when many outputs are compared against the same reference."""
        if self.task == "causal_lm" and terms is not None:
            log_q = torch.log_softmax(output.double(), dim=-1)
            kl = (terms.p * (terms.log_p - log_q)).sum(dim=-1)
            self.kl_sum += float(kl.sum())
            self.positions += kl.numel()
            input_ids = batch["input_ids"]
            self.nll_float += terms.nll_sum
            self.nll_quant += float(-log_q[:, :-1].gather(-1, input_ids[:, 1:, None]).sum())
            self.predicted += input_ids[:, 1:].numel()
        elif self.task == "causal_lm":
            kl = kl_divergence_logits(reference, output)
            self.kl_sum += float(kl.sum())
            self.positions += kl.numel()
            input_ids = batch["input_ids"]
            self.nll_float += float(token_nll(reference, input_ids).sum())
            self.nll_quant += float(token_nll(output, input_ids).sum())
            self.predicted += input_ids[:, 1:].numel()
        else:
            cosine = cosine_rows(reference, output)
            self.cosine_sum += float(cosine.sum())
            self.cosine_min = min(self.cosine_min, float(cosine.min()))
            self.sequences += cosine.numel()

    @property
    def kl(self) -> float:
        return self.kl_sum / self.positions if self.positions else 0.0

    @property
    def mean_cosine(self) -> float:
        return self.cosine_sum / self.sequences if self.sequences else 1.0

    @property
    def perplexity_float(self) -> float:
        return math.exp(self.nll_float / self._predicted()) if self.positions else math.nan

    @property
    def perplexity_quant(self) -> float:
        return math.exp(self.nll_quant / self._predicted()) if self.positions else math.nan

    @property
    def perplexity_change(self) -> float | None:
        """Relative perplexity change (0.01 is +1%); None for encoders."""
        if self.task != "causal_lm" or not self.positions:
            return None
        return math.exp((self.nll_quant - self.nll_float) / self._predicted()) - 1.0

    @property
    def loss(self) -> float:
        """The headline degradation: mean KL (causal LM) or 1 - mean cosine (encoder)."""
        return self.kl if self.task == "causal_lm" else 1.0 - self.mean_cosine

    def _predicted(self) -> int:
        return max(self.predicted, 1)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"task": self.task}
        if self.task == "causal_lm":
            data.update(
                kl=self.kl,
                perplexity_float=self.perplexity_float,
                perplexity_quant=self.perplexity_quant,
                perplexity_change=self.perplexity_change,
                positions=self.positions,
            )
        else:
            data.update(
                mean_cosine=self.mean_cosine,
                min_cosine=self.cosine_min,
                sequences=self.sequences,
            )
        return data
