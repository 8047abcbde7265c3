"""Config resolution: layering order, and errors that name the key, its part and the valid keys."""
from __future__ import annotations

import pytest

from metareg.errors import ConfigError, IncompatibleError
from metareg.run.config import config_hash, load_yaml, parse_overrides, resolve


def test_benchmark_and_learner_presets_then_user_overrides(registry):
    cfg, _ = resolve(registry, [], {"learner": "maml", "benchmark": "digits"})
    assert cfg.learner.maml.inner_lr == 0.4 and cfg.learner.maml.inner_steps == 5  # MAML's classification preset
    assert cfg.train.meta_batch_size == 4  # digits' train_defaults
    assert cfg.run.backbone == "conv4"  # the benchmark's default backbone
    cfg, _ = resolve(registry, parse_overrides(["learner.maml.inner_lr=0.1", "train.meta_batch_size=8"]),
                     {"learner": "maml", "benchmark": "digits"})
    assert cfg.learner.maml.inner_lr == 0.1 and cfg.train.meta_batch_size == 8


def test_sinusoid_defaults_follow_the_maml_paper(registry):
    cfg, _ = resolve(registry, [], {"learner": "maml", "benchmark": "sinusoid"})
    assert cfg.learner.maml.inner_lr == 0.01 and cfg.learner.maml.inner_steps == 1
    assert cfg.train.meta_batch_size == 25 and cfg.benchmark.sinusoid.k_shot == 10
    assert list(cfg.backbone.mlp.hidden) == [40, 40]


def test_unknown_key_names_key_part_and_close_match(registry):
    with pytest.raises(ConfigError) as excinfo:
        resolve(registry, parse_overrides(["learner.maml.inner_lrr=0.1"]), {"learner": "maml"})
    message = str(excinfo.value)
    assert "'learner.maml.inner_lrr'" in message and "learner 'maml'" in message and "'inner_lr'" in message
    assert "first_order" in message  # the valid keys are listed


def test_wrong_type_names_key_and_expected_type(registry):
    with pytest.raises(ConfigError, match=r"'learner.maml.inner_steps'.*'many'.*int"):
        resolve(registry, parse_overrides(["learner.maml.inner_steps=many"]), {"learner": "maml"})
    with pytest.raises(ConfigError, match=r"'run.seed'"):
        resolve(registry, [("run.seed", "abc")])


def test_settings_for_a_part_not_in_the_run_are_refused(registry):
    with pytest.raises(ConfigError, match="is for learner 'protonet', but the run's learner is 'maml'"):
        resolve(registry, parse_overrides(["learner.protonet.vectorize=loop"]), {"learner": "maml"})
    with pytest.raises(ConfigError, match="unknown config key 'trian.meta_iterations'.*did you mean 'train'"):
        resolve(registry, parse_overrides(["trian.meta_iterations=3"]))


def test_classification_only_learner_on_regression_is_incompatible(registry):
    with pytest.raises(IncompatibleError, match="protonet.*classification.*sinusoid.*regression"):
        resolve(registry, [], {"learner": "protonet", "benchmark": "sinusoid"})


def test_yaml_file_then_overrides(registry, tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("run:\n  learner: maml\ntrain:\n  meta_iterations: 7\nlearner:\n  maml:\n    first_order: true\n")
    settings = load_yaml(path) + parse_overrides(["train.meta_iterations=9"])
    cfg, _ = resolve(registry, settings)
    assert cfg.learner.maml.first_order is True and cfg.train.meta_iterations == 9
    with pytest.raises(ConfigError, match="does not exist"):
        load_yaml(tmp_path / "missing.yaml")


def test_malformed_override_is_a_config_error():
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["inner_lr"])


def test_config_hash_changes_with_any_setting_and_is_stable(registry):
    a, sel = resolve(registry, [], {"learner": "maml"})
    b, _ = resolve(registry, [], {"learner": "maml"})
    c, _ = resolve(registry, parse_overrides(["learner.maml.inner_lr=0.02"]), {"learner": "maml"})
    assert config_hash(a, sel) == config_hash(b, sel) != config_hash(c, sel)


def test_a_run_made_on_cpu_has_its_grid_cells_identity(registry):
    """One identity: ``Run.hash`` (what ``Run.execute`` stores) equals the grid's cell hash whatever the device."""
    from metareg.run.engine import Run
    from metareg.grid.expand import Block, expand

    cell = expand(registry, [Block({"learner": ("protonet",), "benchmark": ("digits",)})]).cells[0]
    cpu, selection = resolve(registry, parse_overrides(["run.device=cpu"]),
                             {"learner": "protonet", "benchmark": "digits"})
    assert cpu.run.device == "cpu"
    assert Run(cpu, selection, registry).hash == config_hash(cpu, selection) == cell.hash


def _identity(registry, settings, adversary=None):
    from metareg.run.config import identity

    cfg, selection = resolve(registry, parse_overrides(settings),
                             {"learner": "protonet", "benchmark": "digits-shift", "adversary": adversary})
    return identity(cfg, selection)["config"]


def test_added_settings_at_their_neutral_values_leave_a_run_identity_as_it_was(registry):
    """A run stored before DANN's optimiser settings and the loop's target draw existed keeps its id when asked for
    with them at the values that do what it did; any other value, or the new default draw, is another run."""
    old = _identity(registry, ["train.target_draw=pool"], "dann")
    assert "target_draw" not in old["train"]
    assert not {"lr_multiplier", "discriminator_steps"} & set(old["adversary"]["dann"])
    assert _identity(registry, ["train.target_draw=pool", "adversary.dann.lr_multiplier=1.0",
                                "adversary.dann.discriminator_steps=1"], "dann") == old
    assert _identity(registry, [], "dann")["train"]["target_draw"] == "episodes"
    assert _identity(registry, ["train.target_draw=pool", "adversary.dann.lr_multiplier=10"],
                     "dann")["adversary"]["dann"]["lr_multiplier"] == 10
    # a run without an adversary never draws target inputs: its id ignores the draw
    assert _identity(registry, []) == _identity(registry, ["train.target_draw=pool"])
    assert "target_draw" not in _identity(registry, [])["train"]
