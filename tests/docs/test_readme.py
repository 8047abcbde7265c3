"""The README's list of loop settings is the code's: every ``train.*`` key, with its default, and nothing else."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from metareg.run.config import TrainSection

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_lists_every_train_setting_with_its_default():
    rows = dict(re.findall(r"^\| `train\.(\w+)` \| ([^|]+?) \|", README.read_text(), flags=re.M))
    fields = {f.name: str(f.default) for f in dataclasses.fields(TrainSection)}
    assert rows == fields
