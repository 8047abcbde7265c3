"""The search space of one combination: what its parts declare (``search`` beside each ``Config``) and the loop's
``TRAIN_SEARCH``, then a suite's ``search:`` block and ``--search KEY=SPEC`` on top, each key checked against the
combination's resolved config.

Why the loop's outer learning rate is searched for every combination: it is the one setting every learner shares,
and the one most often left at a default that suits one method and not another. The benchmark and the backbone
are not searched: they define the problem and the model being compared, not how a method is fitted to it.
"""
from __future__ import annotations

import difflib

from omegaconf import DictConfig, OmegaConf

from metareg.errors import ConfigError
from metareg.host.search import DISTRIBUTIONS, Distribution, LogUniform
from metareg.run.config import Selection

#: the loop's searched settings: Adam's rate a decade either side of the 1e-3 every built-in protocol uses
TRAIN_SEARCH: dict[str, Distribution] = {"outer_lr": LogUniform(1e-4, 1e-2)}
#: the families whose parts' ``search`` a combination's space takes
SEARCHED = ("learner", "adversary", "generator")
_ABSENT = object()


def declared_space(selection: Selection) -> dict[str, Distribution]:
    """Dotted key -> distribution: ``train.outer_lr`` and every searched part's own ``search``, keyed
    ``<family>.<part>.<setting>``."""
    space = {f"train.{key}": dist for key, dist in TRAIN_SEARCH.items()}
    for family, info in selection.items():
        if family in SEARCHED:
            for key, dist in (getattr(info.cls, "search", None) or {}).items():
                space[f"{family}.{info.name}.{key}"] = dist
    return space


def combination_space(cfg: DictConfig, selection: Selection, overrides: dict[str, Distribution] | None = None,
                      *, only: bool = False) -> dict[str, Distribution]:
    """The space a study searches: the declared one with ``overrides`` (a suite's ``search:`` block, then
    ``--search``) replacing or adding keys, or only the overrides with ``only``. Every key must be a setting of
    this combination's config and every distribution well formed: either is an error naming the key."""
    space = {} if only else declared_space(selection)
    space.update(overrides or {})
    if not space:
        raise ConfigError("nothing to search: this combination's parts declare no search space and none was given; "
                          "add --search KEY=SPEC (e.g. --search learner.maml.inner_lr=log:0.01:1)")
    for key, dist in space.items():
        if OmegaConf.select(cfg, key, default=_ABSENT) is _ABSENT:
            raise ConfigError(f"--search {key}: no setting of this combination is called that"
                              f"{_close(key, cfg)}; search keys are dotted settings such as learner.maml.inner_lr")
        if not isinstance(dist, DISTRIBUTIONS):
            raise ConfigError(f"search space for {key}: {dist!r} is not a metareg search distribution (LogUniform, "
                              f"Uniform, IntUniform, Categorical)")
        dist.check(key)
    return dict(sorted(space.items()))


def _close(key: str, cfg: DictConfig) -> str:
    from metareg.run.config import _flatten

    keys = [k for k, _ in _flatten(OmegaConf.to_container(cfg))]
    close = difflib.get_close_matches(key, keys, n=2, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""
