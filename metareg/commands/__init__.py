"""The commands: what a user types, and the only stage that reaches every other.

Owns the ``metareg`` command line (``cli``: parsing, the error printout, ``METAREG_RAISE_ERRORS``) and one module
per subcommand, each with ``NAME``, ``add_parser(subparsers)`` and ``run(args) -> exit code``, imported only when
that subcommand runs so ``metareg --help`` stays fast. A command turns arguments into calls on the grid, the
store, the board or a run, and turns their results and errors into text and an exit code.
"""
