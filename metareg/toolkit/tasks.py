"""Tasks (episodes), batches of tasks, and the seeded samplers that keep meta-train/val/test disjoint.

A meta-batch is one ``TaskBatch`` with a leading task dimension so learners can run all tasks as one batched
computation (``torch.func.vmap``); tasks of a batch therefore share their shapes.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
from dataclasses import dataclass
from typing import Callable, Literal, Mapping, Sequence

import torch

from metareg.toolkit.transfer import to_device

TaskKind = Literal["classification", "regression"]
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class TaskSpec:
    """What every task of a benchmark looks like; parts are built from it.

    ``n_outputs`` is the number of ways for classification and the target size for regression.
    """

    kind: TaskKind
    input_shape: tuple[int, ...]
    n_outputs: int
    k_shot: int
    n_query: int
    n_way: int | None = None


@dataclass
class TaskBatch:
    """A batch of tasks: ``support_x [T, S, *input_shape]``, ``support_y [T, S]`` (class ids, long) or
    ``[T, S, n_outputs]`` (regression targets), and the same for the query set.

    ``support_weight [T, S]`` (optional; ``None`` means every sample weighs 1) is how much each support sample
    counts where a learner pools the support set: a generator's samples can weigh less than real ones (real = 1).
    ProtoNet's prototypes and Versa's class means are weighted averages; learners that adapt by gradient steps on
    the support loss ignore it.
    """

    support_x: torch.Tensor
    support_y: torch.Tensor
    query_x: torch.Tensor
    query_y: torch.Tensor
    support_weight: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.support_x.shape[0]

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "TaskBatch":
        """The batch on ``device``; ``non_blocking`` copies host tensors to a GPU through pinned memory without
        waiting for the GPU's queued work (``metareg.toolkit.transfer.to_device``)."""
        move = (lambda t: to_device(t, device)) if non_blocking else (lambda t: t.to(device))  # noqa: E731
        return dataclasses.replace(
            self,
            support_x=move(self.support_x),
            support_y=move(self.support_y),
            query_x=move(self.query_x),
            query_y=move(self.query_y),
            support_weight=None if self.support_weight is None else move(self.support_weight),
        )

    def task(self, i: int) -> "TaskBatch":
        """The i-th task as a batch of one (for per-task reference loops)."""
        return self.tasks(i, i + 1)

    def tasks(self, start: int, stop: int) -> "TaskBatch":
        """Tasks ``start`` to ``stop - 1`` as a batch (views, no copy): a chunk of the meta-batch."""
        return dataclasses.replace(
            self,
            support_x=self.support_x[start:stop],
            support_y=self.support_y[start:stop],
            query_x=self.query_x[start:stop],
            query_y=self.query_y[start:stop],
            support_weight=None if self.support_weight is None else self.support_weight[start:stop],
        )

    def with_support(self, support_x: torch.Tensor, support_y: torch.Tensor,
                     support_weight: torch.Tensor | None = None) -> "TaskBatch":
        """The batch with another support set; ``support_weight [T, S]`` for it (``None``: every sample weighs 1)."""
        return dataclasses.replace(self, support_x=support_x, support_y=support_y, support_weight=support_weight)

    def with_appended(self, x: torch.Tensor, y: torch.Tensor, weight: float) -> "TaskBatch":
        """The batch with ``x [T, G, ...]``, ``y [T, G]`` appended to every support set at support weight ``weight``
        each, the samples already there keeping theirs (1 where the batch carries none): what a generator returns."""
        before = self.support_weight if self.support_weight is not None else \
            self.support_x.new_ones(self.support_x.shape[:2])
        support_weight = torch.cat([before, before.new_full(x.shape[:2], weight)], 1)
        return self.with_support(torch.cat([self.support_x, x], 1), torch.cat([self.support_y, y], 1), support_weight)


#: keywords ``TaskBatch`` once took -> the fix (CHANGELOG.md), so old code meets that instead of a bare TypeError
REMOVED_KEYWORDS = {
    "domain": "removed in metareg 0.1.0, nothing read it; drop the argument (whether an episode is from the target "
              "domain is a matter of which split it was drawn from; CHANGELOG.md)",
}


def _naming_removed_keywords(init: Callable) -> Callable:
    """The generated ``__init__``, with a removed keyword's TypeError naming the fix (the signature unchanged)."""
    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        try:
            init(self, *args, **kwargs)
        except TypeError as exc:
            removed = [f"TaskBatch() got the removed keyword {k!r}: {REMOVED_KEYWORDS[k]}"
                       for k in kwargs if k in REMOVED_KEYWORDS]
            if not removed:
                raise
            raise TypeError("; ".join(removed)) from exc
    return __init__


TaskBatch.__init__ = _naming_removed_keywords(TaskBatch.__init__)


def seed_hash(*coordinates: object) -> int:
    """A 31-bit seed from a run's coordinates (DomainBed's seed_hash), so one knob never shifts another's randomness."""
    digest = hashlib.md5(repr(coordinates).encode()).hexdigest()
    return int(digest, 16) % (2**31)


def torch_generator(*coordinates: object) -> torch.Generator:
    return torch.Generator().manual_seed(seed_hash(*coordinates))


def per_class_references(labels: torch.Tensor, per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For each class in ``labels [S]`` (in sorted order), ``per_class`` indices into ``labels`` that cycle over
    its samples, and the labels of what is made from them: which real sample each generated one comes from, for a
    generator that appends ``per_class`` samples to every class of a support set."""
    idx, out = [], []
    for cls in torch.unique(labels):
        members = (labels == cls).nonzero().flatten()
        idx.append(members[torch.arange(per_class, device=members.device) % len(members)])
        out.append(cls.repeat(per_class))
    return torch.cat(idx), torch.cat(out)


def split_items(items: Sequence, fractions: Sequence[float], seed: int) -> list[list]:
    """Shuffle ``items`` with ``seed`` and cut them into disjoint consecutive parts of the given fractions.

    Every part gets at least one item; the last part takes the remainder.
    """
    if len(fractions) > len(items):
        raise ValueError(f"cannot split {len(items)} items into {len(fractions)} non-empty parts")
    order = torch.randperm(len(items), generator=torch.Generator().manual_seed(seed)).tolist()
    total = sum(fractions)
    parts, start = [], 0
    for i, f in enumerate(fractions):
        if i == len(fractions) - 1:
            stop = len(items)
        else:
            stop = max(start + 1, min(len(items) - (len(fractions) - 1 - i), start + round(len(items) * f / total)))
        parts.append([items[j] for j in order[start:stop]])
        start = stop
    return parts


def split_domains(source: Sequence, target: Sequence, val_fraction: float, pool_fraction: float,
                  seed: int) -> dict[str, list]:
    """The classes of a shift benchmark with a source and a target domain (Omniglot's background and evaluation
    alphabets, one font style and another): train and val classes from ``source``, test and unlabelled-pool
    classes from ``target`` (``pool_fraction`` of them in the pool, so the pool never holds a test class).

    One function for every such benchmark, so that a seed cuts the same classes wherever the rule is the same.
    """
    train, val = split_items(source, [1 - val_fraction, val_fraction], seed)
    pool, test = split_items(target, [pool_fraction, 1 - pool_fraction], seed + 1)
    return {"train": train, "val": val, "test": test, "pool": pool}


class ClassPool:
    """Samples grouped by class, from which N-way K-shot episodes are drawn.

    Labels inside an episode are 0..N-1 in a random order per episode, so no learner can memorise class identities.
    A class's samples are a tensor ``[n, *shape]`` held in memory, or, with ``load``, a sequence of items (image
    files, say) that ``load(items) -> [len(items), *shape]`` turns into inputs, called once for each task's support
    set and once for its queries: only the samples an episode uses are ever loaded. The draw is the same either
    way, so a seed gives the same episode from files as from tensors.
    """

    def __init__(self, by_class: Mapping[object, torch.Tensor | Sequence],
                 load: Callable[[list], torch.Tensor] | None = None):
        if not by_class:
            raise ValueError("a ClassPool needs at least one class")
        self.classes = list(by_class)
        self.by_class = dict(by_class)
        self.load = load

    def __len__(self) -> int:
        return len(self.classes)

    def smallest_class(self) -> int:
        return min(len(v) for v in self.by_class.values())

    def episodes(self, n_tasks: int, n_way: int, k_shot: int, n_query: int, generator: torch.Generator) -> TaskBatch:
        """``n_tasks`` episodes of ``n_way`` classes with ``k_shot`` support and ``n_query`` query samples each."""
        if n_way > len(self.classes):
            raise ValueError(f"{n_way}-way episodes need {n_way} classes; this split has {len(self.classes)}")
        per_class = k_shot + n_query
        if per_class > self.smallest_class():
            raise ValueError(
                f"{k_shot}-shot episodes with {n_query} queries need {per_class} samples per class; "
                f"the smallest class of this split has {self.smallest_class()}"
            )
        sx, qx = [], []
        for _ in range(n_tasks):
            chosen = torch.randperm(len(self.classes), generator=generator)[:n_way].tolist()
            support, query = [], []
            for ci in chosen:
                data = self.by_class[self.classes[ci]]
                pick = torch.randperm(len(data), generator=generator)[:per_class]
                support.append(self._take(data, pick[:k_shot]))
                query.append(self._take(data, pick[k_shot:]))
            sx.append(self._inputs(support))
            qx.append(self._inputs(query))
        sy = torch.arange(n_way).repeat_interleave(k_shot).expand(n_tasks, -1).contiguous()
        qy = torch.arange(n_way).repeat_interleave(n_query).expand(n_tasks, -1).contiguous()
        return TaskBatch(torch.stack(sx), sy, torch.stack(qx), qy)

    def _take(self, data, pick: torch.Tensor):
        return [data[i] for i in pick.tolist()] if self.load is not None else data[pick]

    def _inputs(self, per_class: list):
        if self.load is not None:
            return self.load([item for items in per_class for item in items])
        return torch.cat(per_class)
