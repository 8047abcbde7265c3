"""Matching Networks: a query's class distribution is its attention over the support set, a softmax of cosines."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

import metareg


class MatchingNet(metareg.MetaLearner):
    """Matching Networks without full context embeddings: P(y = c | x̂, S) = Σ_{i: y_i = c} a(x̂, x_i), with the
    attention a(x̂, x_i) = softmax over the support set of ``scale`` · cos(f(x̂), g(x_i)).

    f = g = the backbone (the paper's variant without fully conditional embeddings). Each task's support and query
    inputs are embedded in one backbone call (``metareg.embed_tasks``, under the ``vectorize`` strategy the
    built-in ProtoNet also offers), so batch norm normalises a task by its own samples and tasks stay independent
    (a generated support sample weighing its ``support_weight`` there and in the attention). The loss is the negative log-probability of each query's class, averaged over queries and tasks;
    ``predict`` returns the log-probabilities (computed as a log-sum-exp of log-attention over each class's support
    samples, which stays finite and exact where the probabilities underflow). No inner loop: adaptation is the
    attention itself.

    Config:
        scale: multiplies the cosine similarities inside the softmax. The paper uses the plain cosine (1.0); a
            larger value (e.g. 10) sharpens the attention and usually trains faster.
        vectorize: auto | vmap | loop | grouped: how the tasks of a meta-batch are embedded (the same features;
            ``metareg.embed_tasks``).

    References:
        Vinyals, Blundell, Lillicrap, Kavukcuoglu, Wierstra. "Matching Networks for One Shot Learning".
        NeurIPS 2016. Eq. 1 (ŷ = Σ a(x̂, x_i) y_i), Eq. 2 (a = softmax of cosine distance); Table 1 (Omniglot
        5-way 1-shot 98.1%, 5-shot 98.9%). The fully conditional embeddings (an LSTM over the support set, Sec. 2.1.2)
        are not implemented.

    Example:
        metareg bench --learner matchingnet --benchmark blobs-shift learner.matchingnet.scale=10
    """

    name = "matchingnet"
    task_kinds = ("classification",)

    @dataclass
    class Config:
        scale: float = 1.0
        vectorize: str = "auto"

    ranges = {"vectorize": metareg.Choice(*metareg.STRATEGIES)}

    def embed(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Support ``[T, S, F]`` and query ``[T, Q, F]`` embeddings, one backbone call per task."""
        return metareg.embed_tasks(self.backbone, batch, self.config.vectorize)

    def attention(self, support: torch.Tensor, query: torch.Tensor,
                  weight: torch.Tensor | None = None) -> torch.Tensor:
        """Log-attention ``[T, Q, S]`` of each query on each support sample: log-softmax over S of scale · cosine.

        A support sample of ``weight`` w (``TaskBatch.support_weight [T, S]``) has its attention multiplied by w
        before the softmax normalises it, as if it stood w times in the support set; at weight 0 it gets none."""
        logits = self.config.scale * F.normalize(query, dim=-1) @ F.normalize(support, dim=-1).transpose(1, 2)
        if weight is not None:
            logits = logits + weight.to(logits.dtype).log().unsqueeze(1)
        return torch.log_softmax(logits, dim=-1)

    def log_probs(self, batch) -> torch.Tensor:
        """log P(y = c | query, support) ``[T, Q, n_way]``: the log of the attention mass on class c's samples."""
        support, query = self.embed(batch)
        log_attention = self.attention(support, query, batch.support_weight)  # [T, Q, S]
        members = F.one_hot(batch.support_y, self.spec.n_outputs).to(log_attention.dtype)  # [T, S, N]
        return torch.logsumexp(log_attention.unsqueeze(-1) + members.log().unsqueeze(1), dim=2)

    def meta_loss(self, batch):
        log_probs = self.log_probs(batch)
        loss = F.nll_loss(log_probs.flatten(0, 1), batch.query_y.flatten())
        accuracy = (log_probs.argmax(-1) == batch.query_y).float().mean()
        return metareg.LearnerOutput(loss, {"accuracy": accuracy.detach()})

    def predict(self, batch):
        with torch.no_grad():
            return self.log_probs(batch)


@metareg.hookimpl
def metareg_register_learners(register):
    register(MatchingNet)
