"""benchmarks.probe_cost reads the probe's stored seconds against each run's wall time."""
from __future__ import annotations

from benchmarks import probe_cost
from metareg.store.database import Store
from metareg.toolkit.metrics import PROBE
from tests.helpers.boards import run_config, store_run


def test_the_share_is_the_probe_seconds_over_the_run_wall_time(tmp_path, capsys):
    store = Store(tmp_path)
    run_id = store_run(store, run_config("protonet", None, 0), [0.5])
    row = store.get(run_id)
    store.finish(run_id, status="done", wall_time=40.0,
                 metrics={**row.metrics, PROBE: {"mean": 0.8, "ci95": 0.05, "n": 10, "seconds": 2.0}})
    assert probe_cost.main(["--store", str(tmp_path)]) == 0
    assert "| digits-shift | protonet | 1 | 2.00 | 40.0 | 5.0% | 5.0% |" in capsys.readouterr().out
