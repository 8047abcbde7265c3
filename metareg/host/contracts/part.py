"""What every part shares: a kebab-case ``name``, a ``Config`` dataclass of its hyper-parameters, and a docstring."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from metareg.host.ranges import Choice, Range, check_ranges


@dataclass
class NoConfig:
    """The config of a part without hyper-parameters."""


class Part:
    """Mixin of every family base class.

    ``name`` is the part's kebab-case name on the command line and in results; ``Config`` is a dataclass whose
    fields (with defaults) become the omegaconf namespace ``<family>.<name>``. ``presets`` maps a task kind to
    overrides of ``Config`` that the paper uses for that kind (e.g. MAML's inner lr 0.01 for regression, 0.4 for
    classification); user config always wins over presets. A dotted preset key sets another section, for the
    settings of a method that are not its own part's: ``"train.grad_clip": "value"`` the loop's outer-gradient
    clipping, ``"backbone.init": "kaiming"`` the chosen backbone's ``init`` when it has that setting (CAVIA's
    reference initialisation and clipping are set this way).

    ``ranges`` maps ``Config`` fields to their valid values: a ``metareg.Range`` for a number, a ``metareg.Choice``
    for a fixed set (each element of a list field is checked). Config resolution rejects a value outside with a
    ``ConfigError`` naming the key, the value and the range before anything is stored or built, and the family's
    base constructor checks the config it is given the same way, so a part built by hand is held to it too. NaN
    and ±inf are outside every range.

    ``added_settings`` names the ``Config`` fields a part gained after runs were stored, with the value that does
    what the part did before (``{"lr_multiplier": 1.0}``): at that value a field is left out of the run id.

    ``search`` maps ``Config`` fields to the distributions ``metareg tune`` draws them from
    (``metareg.LogUniform``, ``Uniform``, ``IntUniform``, ``Categorical``; ``metareg.host.search``): the settings
    that matter, over the scale they vary on. Empty by default (only the loop's ``train.outer_lr`` is searched).

    ``check_config`` holds overrides of ``Config`` that make a small, fast instance for the runtime contract checks
    (``metareg.testing.check_plugin``, ``metareg plugins --check``), e.g. a few training iterations instead of
    thousands; runs never read it.
    """

    name: ClassVar[str]
    Config: ClassVar[type] = NoConfig
    presets: ClassVar[dict[str, dict]] = {}
    ranges: ClassVar[dict[str, Range | Choice]] = {}
    check_config: ClassVar[dict] = {}
    #: ``Config`` fields declared after runs without them were stored, each with the value at which the part does
    #: exactly what it did before the field existed: at that value the field is left out of the run's identity
    #: (``metareg.run.config.identity``), so adding a setting to a published part keeps every stored run id
    added_settings: ClassVar[dict] = {}
    #: ``Config`` field -> the distribution ``metareg tune`` searches it over (``metareg.host.search``)
    search: ClassVar[dict] = {}

    @classmethod
    def check_settings(cls, config) -> None:
        """Raise ``metareg.ConfigError`` naming the key and the fix when settings that are valid one by one (their
        ``ranges``) do not go together, e.g. a benchmark's ``train_domain=target`` where its domains have no
        labelled target samples. Config resolution calls it for every planned cell, so a bad combination stops a
        grid before any cell runs: keep it cheap and free of data (the constructor checks what needs the data)."""


def check_part_ranges(part: Part, family: str, config: object) -> None:
    """``ConfigError`` when ``config`` breaks ``part``'s declared ``ranges``, the key named ``<family>.<name>.<key>``:
    what each family's base constructor runs."""
    cls = type(part)
    if cls.ranges:
        check_ranges(cls.ranges, config, f"{family}.{getattr(cls, 'name', cls.__name__)}")
