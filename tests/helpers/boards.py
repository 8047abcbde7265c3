"""Stores and boards built by hand for the leaderboard and report tests: a run's stored config, a stored run
with given test values, a small board, and an HTML parser for the report page."""
from __future__ import annotations

import hashlib
import json
import random
from html.parser import HTMLParser

from metareg.board.build import build_board
from metareg.store.database import Store
from metareg.toolkit.stats import mean_ci95


def run_config(learner: str, adversary: str | None, seed: int, benchmark: str = "digits-shift", **train) -> dict:
    config = {"run": {"learner": learner, "benchmark": benchmark, "backbone": "conv4", "adversary": adversary,
                      "generator": None, "seed": seed, "device": "cpu"},
              "train": {"meta_iterations": 10, **train}, "benchmark": {benchmark: {"k_shot": 1}},
              "backbone": {"conv4": {"channels": 4}}, "learner": {learner: {"lr": 0.1}}}
    if adversary:
        config["adversary"] = {adversary: {"weight": 1.0}}
    return config


def store_run(store: Store, config: dict, values: list[float] | None, metric: str = "accuracy",
               history: list | None = None) -> int:
    run = config["run"]
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    run_id = store.start(config_hash=digest, device="cpu", config=config, versions={"torch": "x"},
                         seed=run["seed"], parts={k: run[k] for k in ("benchmark", "backbone", "learner",
                                                                        "adversary", "generator")})
    if values is None:
        store.finish(run_id, status="failed", wall_time=1.0, error="FloatingPointError: loss became nan")
    else:
        store.finish(run_id, status="done", wall_time=2.0 + run["seed"],
                     metrics={metric: mean_ci95(values).as_dict()}, history=history or [])
    return run_id



class Page(HTMLParser):
    """The images, table cells and external references of an HTML page."""

    def __init__(self):
        super().__init__()
        self.images, self.rows, self.external, self.stack = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.stack.append(tag)
        if tag == "img":
            self.images.append(attrs)
        if tag == "tr":
            self.rows.append([])
        for key in ("src", "href"):
            if attrs.get(key, "").startswith(("http:", "https:", "//", "file:")):
                self.external.append(attrs[key])
        if tag in ("script", "link", "iframe"):
            self.external.append(tag)

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data):
        if self.stack and self.stack[-1] in ("td", "th", "strong") and self.rows and data.strip():
            self.rows[-1].append(data.strip())


def make_board(folder):
    """Two sections (digits-shift with learning curves, sinusoid without), three rows with two seeds each."""
    store = Store(folder)
    rng = random.Random(2)
    for learner, adversary in (("protonet", None), ("protonet", "dann"), ("maml", None)):
        for seed in (0, 1):
            history = [{"iteration": i, "train_loss": 1.5 / i + rng.random() * 0.05,
                        "val_accuracy": 0.5 + 0.01 * i} for i in (10, 20, 30)]
            store_run(store, run_config(learner, adversary, seed), [rng.random() for _ in range(20)], history=history)
    store_run(store, run_config("maml", None, 0, benchmark="sinusoid"), [0.4, 0.5, 0.3], metric="mse")
    return build_board(store.runs(), title="test board", store_path=store.path)
