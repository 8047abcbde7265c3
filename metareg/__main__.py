"""``python -m metareg`` is the ``metareg`` command."""
import sys

from metareg.cli import main

sys.exit(main())
