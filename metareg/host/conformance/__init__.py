"""Runtime contract checks: run a part on tiny probe inputs and report each clause of its family's contract it breaks.

``metareg.host.contracts.check`` looks at a class when it is registered (base class, name, Config, constructor); these
checks run it: shapes and dtypes of what it returns, where gradients flow, the batched (``vmap``) path, determinism
under a seed, and that a few meta-training steps lower the loss. Plugin authors reach them through
``metareg.testing.check_plugin`` (and the ``metareg_check`` fixture); users through ``metareg plugins --check``.

One module per family (``backbone``, ``learner``, ``adversary``, ``generator``, ``benchmark``) declares its
clauses next to the code that checks them; ``run`` drives them over a registry and builds the report. Nothing here
imports torch until a check runs.
"""
from metareg.host.conformance.clauses import Clause, Finding, PartReport
from metareg.host.conformance.run import Report, check_class, check_plugin, check_registry

__all__ = ["Clause", "Finding", "PartReport", "Report", "check_class", "check_plugin", "check_registry"]
