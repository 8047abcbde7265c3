"""``python -m benchmarks.perf``: see ``benchmarks/perf/__init__.py``."""
import sys

from benchmarks.perf.cli import main

sys.exit(main())
