"""``metareg.Range``: what each form admits, how it reads in a message, and that every built-in declares its
numeric settings (so a new setting cannot slip in unchecked)."""
from __future__ import annotations

import dataclasses

import pytest

import metareg
from metareg.errors import ConfigError
from metareg.host.ranges import Choice, Range, check_ranges, violation
from metareg.run.config import RunSection, TrainSection

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("valid, inside, outside, text", [
    (Range.at_least(1), [1, 2, 10**30], [0, -1, 0.5, NAN, INF], "at least 1"),
    (Range.above(0), [1e-12, 3], [0, -1e-12, NAN, INF, -INF], "above 0"),
    (Range.at_most(1), [1, -5], [1.5, NAN], "at most 1"),
    (Range.below(0.5), [0.49, -2], [0.5, NAN], "below 0.5"),
    (Range.between(1, 4), [1, 4, 2.5], [0, 5], "from 1 to 4"),
    (Range.above(0) & Range.below(1), [0.5], [0, 1, NAN], "above 0 and below 1"),
    (Range.at_least(0) & Range.below(0.5), [0, 0.25], [0.5, -0.1], "at least 0 and below 0.5"),
    (Range.at_least(8).allowing(0), [0, 8, 64], [4, -8], "0 or at least 8"),
    (Range.finite(), [-1e300, 0, 1e300], [NAN, INF, -INF], "a finite number"),
    (Range.seed(), [0, 2**63 - 1], [-1, 2**63, 10**400], "at least 0 and below 2**63"),
    (Range.at_least(0).multiple_of(50), [0, 50, 500], [70, -50, 50.0, True], "at least 0 and a multiple of 50"),
    (Range.at_least(1).multiple_of(1).allowing("auto"), ["auto", 1, 7], [0, 2.5, "Auto", "some", True],
     "auto or at least 1 and a whole number"),
    (Range.above(0).allowing("auto"), ["auto", 0.5, 8000], [0, -1, "lots", NAN], "auto or above 0"),
])
def test_each_form_admits_its_values_and_says_so(valid, inside, outside, text):
    assert all(v in valid for v in inside) and not any(v in valid for v in outside)
    assert str(valid) == text


def test_combining_keeps_the_tighter_bounds_and_only_the_extra_values_both_admit():
    both = Range.at_least(0) & Range.above(0) & Range.at_most(5) & Range.below(9)
    assert str(both) == "above 0 and at most 5"
    assert 0 in (Range.at_least(8).allowing(0) & Range.below(100))
    assert 0 not in (Range.at_least(8).allowing(0) & Range.above(1))


def test_multiples_combine_to_their_least_common_multiple_and_reject_a_bad_step():
    assert str(Range.at_least(0).multiple_of(4).multiple_of(6)) == "at least 0 and a multiple of 12"
    assert 12 in Range.at_least(0).multiple_of(4).multiple_of(6) and 8 not in Range.at_least(0).multiple_of(4).multiple_of(6)
    with pytest.raises(TypeError, match="whole number >= 1"):
        Range.at_least(0).multiple_of(0)


def test_a_violation_names_the_key_the_value_the_range_and_the_reason():
    assert violation("train.outer_lr", NAN, Range.above(0)) == "train.outer_lr must be above 0, got nan"
    assert violation("b.mlp.hidden", [40, 0, -1], Range.at_least(1)) == "b.mlp.hidden[1] must be at least 1, got 0"
    assert violation("b.mlp.hidden", [40, 40], Range.at_least(1)) is None
    why = Range.at_least(1).because("with no inner step the update is zero")
    assert violation("k", 0, why) == "k must be at least 1, got 0: with no inner step the update is zero"
    assert True not in Range.at_least(0)  # a bool is never a number here
    assert violation("k", True, Range.at_least(0)) == "k must be at least 0, got True"


def test_a_choice_admits_exactly_its_values():
    vectorize = Choice("auto", "vmap", "loop")
    assert "vmap" in vectorize and "fast" not in vectorize and 1 not in Choice(True, 2)
    assert violation("learner.x.vectorize", "fast", vectorize) == \
        "learner.x.vectorize must be one of auto, vmap, loop, got 'fast'"
    assert violation("s", ["rotate", "warp"], Choice("rotate").because("see SHIFTS")) == \
        "s[1] must be one of rotate, got 'warp': see SHIFTS"
    with pytest.raises(TypeError):
        Choice()


def test_check_ranges_reads_a_config_by_attribute_and_raises_a_config_error():
    with pytest.raises(ConfigError, match=r"^train.meta_iterations must be at least 1, got -5$"):
        check_ranges(TrainSection.ranges, TrainSection(meta_iterations=-5), "train")
    check_ranges(TrainSection.ranges, TrainSection(), "train")
    check_ranges(RunSection.ranges, RunSection(), "run")


def _numeric(value) -> bool:
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items)


def _defaults(config_cls) -> dict:
    return {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
            for f in dataclasses.fields(config_cls)}


def test_every_numeric_setting_of_the_loop_and_of_every_builtin_part_declares_its_range(registry):
    parts = [(f"{info.family}.{info.name}", info.cls.Config, info.cls.ranges) for info in registry.all_parts()
             if info.builtin]
    sections = [("train", TrainSection, TrainSection.ranges), ("run", RunSection, RunSection.ranges)]
    undeclared = [f"{where}.{key}" for where, config, ranges in sections + parts
                  for key, value in _defaults(config).items() if _numeric(value) and key not in ranges]
    assert undeclared == []


def test_a_part_built_by_hand_is_held_to_its_ranges():
    from metareg_plugins.backbones import MLP
    from metareg_plugins.reptile import Reptile

    spec = metareg.TaskSpec("regression", (2,), 1, 4, 5)
    with pytest.raises(ConfigError, match="learner.reptile.inner_steps must be at least 1, got 0"):
        Reptile(MLP((2,), MLP.Config(hidden=[4])), spec, Reptile.Config(inner_steps=0))
    with pytest.raises(ConfigError, match=r"backbone.mlp.hidden\[0\] must be at least 1, got 0"):
        MLP((2,), MLP.Config(hidden=[0]))
