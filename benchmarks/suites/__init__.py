"""The suites that ship with metareg, installed as the package data of ``metareg_suites``.

The YAML files beside this module are the named leaderboards ``metareg bench --suite NAME`` runs, ``default``
among them (what a bare ``metareg bench`` runs). They live in the source tree under ``benchmarks/suites`` and are
installed as this package (``pyproject.toml`` maps it here), so a wheel installed anywhere finds them without the
source checkout.
"""
