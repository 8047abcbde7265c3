"""One module per ``metareg`` subcommand: ``NAME``, ``add_parser(subparsers)`` and ``run(args) -> exit code``."""
