"""Settings that make a run take seconds, and the JSON lines a command prints."""
from __future__ import annotations

import json




#: a run small enough for a test: a few outer updates, few test tasks
TINY = ["train.meta_iterations=3", "train.val_every=0", "train.test_tasks=6", "train.eval_batch_size=3"]


TINY_DIGITS = TINY + ["benchmark.digits.image_size=16", "backbone.conv4.channels=4", "train.meta_batch_size=2",
                      "benchmark.digits.n_query=2"]


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]
