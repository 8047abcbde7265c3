"""``metareg bench --log KIND:DIR``: turn a logging observer on from the command line.

Why a switch that sets an environment variable: an observer plugin is configured by the environment it runs in
(``METAREG_TENSORBOARD=DIR`` for the built-in ``tensorboard-log``), which every worker process inherits, so the
switch and the variable cannot disagree. metareg names no plugin in its code, so the table below holds only the
variable each kind sets; the plugin reading it is found through the entry points like any other.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator

from metareg.errors import ConfigError

#: ``--log`` kind -> the environment variable its observer plugin reads (the log folder)
LOGGERS = {"tensorboard": "METAREG_TENSORBOARD"}


def parse(values: list[str]) -> dict[str, str]:
    """``["tensorboard:runs/tb"]`` -> ``{"METAREG_TENSORBOARD": "runs/tb"}``; a bad value is a ``ConfigError``."""
    settings: dict[str, str] = {}
    kinds = ", ".join(f"{k}:DIR" for k in LOGGERS)
    for value in values:
        kind, sep, folder = value.partition(":")
        if kind not in LOGGERS:
            raise ConfigError(f"--log {value!r}: unknown logger {kind!r}; use {kinds}")
        if not sep or not folder.strip():
            raise ConfigError(f"--log {value!r} names no folder: use --log {kind}:DIR, e.g. --log {kind}:runs/{kind}")
        settings[LOGGERS[kind]] = folder.strip()
    return settings


@contextlib.contextmanager
def logging_to(values: list[str]) -> Iterator[None]:
    """The environment with each ``--log`` switch's variable set while the block runs, as it was afterwards."""
    settings = parse(values)
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
