"""``python -m metareg`` is the ``metareg`` command."""
import sys

from metareg.commands.cli import main

sys.exit(main())
