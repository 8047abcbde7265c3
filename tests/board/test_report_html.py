"""The report files: the HTML is one self-contained page whose table and PNG plots parse, and the four formats
carry the same numbers."""
from __future__ import annotations

import base64
import csv
import io
import json

import pytest

from metareg.board.build import build_board
from metareg.board.report import records, to_csv, to_html, to_json, to_markdown
from metareg.store.database import Store

from helpers.runs import TINY
from helpers.boards import run_config, store_run
from helpers.boards import Page, make_board


@pytest.fixture
def board(tmp_path):
    return make_board(tmp_path / "store")


def test_html_is_self_contained_with_a_table_and_decodable_png_plots(board):
    from PIL import Image

    page = Page()
    page.feed(to_html(board))
    assert not page.external  # no network, no scripts: opens from disk anywhere
    # two sections; the shift one has a bar chart and learning curves, the sinusoid one (no history) a bar chart
    assert len(page.images) == 3
    for image in page.images:
        prefix, data = image["src"].split(",", 1)
        assert prefix == "data:image/png;base64" and image["alt"]
        picture = Image.open(io.BytesIO(base64.b64decode(data)))
        picture.load()
        assert picture.format == "PNG" and picture.width > 200 and picture.height > 100
    headers = [row for row in page.rows if "rank" in row]
    assert len(headers) == 2
    body = [row for row in page.rows if row and row[0] in ("1", "2", "3")]
    assert len(body) == 4


def test_every_format_carries_the_same_numbers(board):
    rows = records(board)
    from_csv = list(csv.DictReader(io.StringIO(to_csv(board))))
    from_json = [r for s in json.loads(to_json(board))["sections"] for r in s["rows"]]
    markdown, html = to_markdown(board), to_html(board)
    assert len(rows) == len(from_csv) == len(from_json) == 4
    for raw, line, obj in zip(rows, from_csv, from_json):
        assert float(line["mean"]) == raw["mean"] == obj["mean"] and float(line["ci95"]) == obj["ci95"]
        assert int(line["n"]) == obj["n"] and line["learner"] == obj["learner"]
        shown = f"{raw['mean']:.3f} ± {raw['ci95']:.3f}"
        assert shown in markdown and shown in html


def test_leaderboard_writes_every_format_to_the_out_folder(run_cli, tmp_path):
    run_cli("bench", "--learner", "maml", "--quiet", *TINY)
    code, out, _ = run_cli("leaderboard", "--format", "md,html,csv,json", "--out", str(tmp_path / "report"))
    assert code == 0
    written = sorted(p.name for p in (tmp_path / "report").iterdir())
    assert written == ["leaderboard.csv", "leaderboard.html", "leaderboard.json", "leaderboard.md"]
    assert out.split() == [str(tmp_path / "report" / n) for n in ("leaderboard.md", "leaderboard.html",
                                                                   "leaderboard.csv", "leaderboard.json")]
    mse = json.loads((tmp_path / "report" / "leaderboard.json").read_text())["sections"][0]["rows"][0]["mean"]
    assert f"{mse:.3f}" in (tmp_path / "report" / "leaderboard.md").read_text()


def test_learning_curves_add_the_domain_discriminator_panel_when_an_adversary_logged_it(tmp_path):
    from PIL import Image

    from metareg.board.plots import learning_curves

    def curves(log_domain: bool, folder):
        store = Store(folder)
        for adversary in (None, "dann"):
            history = [{"iteration": i, "train_loss": 1.0 / i, "val_accuracy": 0.5,
                        **({"adversary_domain_accuracy": 0.9 - 0.01 * i} if adversary and log_domain else {})}
                       for i in (10, 20, 30)]
            store_run(store, run_config("protonet", adversary, 0), [0.5, 0.6], history=history)
        [section] = build_board(store.runs()).sections
        return Image.open(io.BytesIO(learning_curves(section)))

    with_domain, without = curves(True, tmp_path / "a"), curves(False, tmp_path / "b")
    assert with_domain.width > without.width * 1.3  # a third panel: the discriminator's accuracy over training
