"""The real-only batch-norm comparison script (benchmarks.bn_statistics): inside it a generated sample (weight
below 1) leaves the statistics entirely, on both weighted batch-norm paths, and its runs never share a store with
weighted-statistics runs."""
from __future__ import annotations

import pytest
import torch

from benchmarks import bn_statistics
from metareg.toolkit.sample_weights import batch_norm_weights
from metareg.toolkit import grouped, layers


@pytest.fixture
def real_only(monkeypatch):
    """bn_statistics.install() for one test: the originals come back when it ends."""
    monkeypatch.setattr(layers, "weighted_moments", layers.weighted_moments)
    monkeypatch.setattr(grouped, "_weighted_batch_norm", grouped._weighted_batch_norm)
    bn_statistics.install()


def _normalise(norm, x, weights):
    with batch_norm_weights(weights):
        return norm(x)


def test_a_sample_below_weight_one_leaves_the_statistics_under_the_script(real_only):
    torch.manual_seed(0)
    norm = layers.TaskBatchNorm(3)
    x = torch.randn(5, 3, 4, 4)
    half = _normalise(norm, x, torch.tensor([1.0, 1.0, 1.0, 0.5, 0.3]))
    dropped = _normalise(norm, x, torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0]))
    torch.testing.assert_close(half, dropped)


def test_without_the_script_a_half_weight_sample_still_moves_the_statistics():
    torch.manual_seed(0)
    norm = layers.TaskBatchNorm(3)
    x = torch.randn(5, 3, 4, 4)
    half = _normalise(norm, x, torch.tensor([1.0, 1.0, 1.0, 0.5, 0.3]))
    dropped = _normalise(norm, x, torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0]))
    assert not torch.allclose(half[:3], dropped[:3])


def test_the_grouped_path_drops_the_same_samples(real_only):
    torch.manual_seed(0)
    h = torch.randn(5, 2 * 3, 4, 4)  # 5 samples of 2 tasks x 3 channels, the grouped layout
    gamma, beta = torch.ones(2, 3), torch.zeros(2, 3)
    half = grouped._weighted_batch_norm(h, torch.tensor([[1.0, 1, 1, 0.5, 0.3]] * 2), gamma, beta, 1e-5)
    dropped = grouped._weighted_batch_norm(h, torch.tensor([[1.0, 1, 1, 0, 0]] * 2), gamma, beta, 1e-5)
    torch.testing.assert_close(half, dropped)


@pytest.mark.parametrize("flag", ["--workers", "--workers=2", "--executor", "--store"])
def test_options_that_would_escape_the_wrapping_are_refused(tmp_path, flag, capsys):
    with pytest.raises(SystemExit) as stop:
        bn_statistics.main(["--store", str(tmp_path / "s"), "--", "--learner", "protonet", flag, "x"])
    assert stop.value.code == 2
    assert "this process" in capsys.readouterr().err


def test_a_store_the_script_did_not_mark_is_refused(tmp_path, capsys):
    (tmp_path / "results.sqlite").write_bytes(b"")
    with pytest.raises(SystemExit) as stop:
        bn_statistics.main(["--store", str(tmp_path), "--", "--learner", "protonet"])
    assert stop.value.code == 2
    assert "new folder" in capsys.readouterr().err
