"""``metareg tune``'s bad input: one clear line and exit 2, before any trial runs (no store is made)."""
from __future__ import annotations

import pytest

from metareg.errors import ConfigError
from metareg.host.search import Categorical, IntUniform, LogUniform, parse_spec

pytest.importorskip("optuna")

BASE = ("tune", "--learner", "maml", "--benchmark", "sinusoid", "train.meta_iterations=5", "train.val_every=5")


@pytest.mark.parametrize("extra,message", [
    (("--trials", "2", "--search", "learner.maml.innr_lr=log:0.01:1"),
     "--search learner.maml.innr_lr: no setting of this combination is called that (did you mean learner.maml.inner_lr"),
    (("--trials", "2", "--search", "learner.maml.inner_lr=log:1:0.01"), "log-uniform needs 0 < low < high, got [1.0, 0.01]"),
    (("--trials", "2", "--search", "learner.maml.inner_steps=int:3:3"), "integer range needs low < high, got [3, 3]"),
    (("--trials", "2", "--search", "learner.maml.inner_lr=wide"), "not a search space; give log:LOW:HIGH"),
    (("--trials", "0",), "--trials 0: a study needs at least 1 trial"),
    ((), "needs --trials N"),
    (("--trials", "2", "train.val_every=0"), "train.val_every=0 turns validation off"),
    (("--trials", "2", "--select", "oracle"), "--select oracle: the selection rules are source-val, target-val"),
    (("--trials", "2", "--select", "target-val"),
     "--select target-val: benchmark 'sinusoid' declares no labelled target validation split"),
    (("--trials", "2", "--select", "target-val", "--benchmark", "glyph-world", "--learner", "protonet"),
     "benchmark.glyph-world.val_domain=target needs domains=style or platform"),
])
def test_bad_tune_input_is_one_line_and_exit_2_before_any_trial(run_cli, tmp_path, extra, message):
    code, out, err = run_cli(*BASE, *extra)
    assert code == 2 and message in err, err
    assert not (tmp_path / "store").exists()


def test_search_specs_parse_to_their_distributions():
    assert parse_spec("k", "log:0.01:1") == LogUniform(0.01, 1.0)
    assert parse_spec("k", "int:1:10") == IntUniform(1, 10)
    assert parse_spec("k", "choice:vmap,loop") == Categorical("vmap", "loop")
    assert parse_spec("k", "choice:true,false") == Categorical(True, False)
    assert parse_spec("k", "choice:64,128") == Categorical(64, 128)
    with pytest.raises(ConfigError, match="at least two distinct choices"):
        parse_spec("k", "choice:a,a")


def test_every_built_in_search_space_is_well_formed_and_names_config_fields(registry):
    import dataclasses

    declared = 0
    for info in registry.all_parts():
        for key, dist in (getattr(info.cls, "search", None) or {}).items():
            assert key in {f.name for f in dataclasses.fields(info.cls.Config)}, (info.name, key)
            dist.check(f"{info.name}.{key}")
            declared += 1
    assert declared >= 8
