"""What every subcommand shares: loading the registry with one warning line per broken plugin."""
from __future__ import annotations

import sys


def load_registry():
    from metareg.host.registry import Registry

    registry = Registry.load(warn=False)
    for failure in registry.failures:
        print(f"metareg: warning: {failure.line()}; `metareg plugins` shows more", file=sys.stderr)
    return registry
