"""One contract per family: the base class a registered part must subclass, and what the engine calls on it."""
from metareg.host.contracts.adversary import Adversary, AdversaryOutput
from metareg.host.contracts.backbone import Backbone
from metareg.host.contracts.benchmark import Benchmark
from metareg.host.contracts.check import CONTRACTS, check_part
from metareg.host.contracts.generator import Generator
from metareg.host.contracts.learner import LearnerOutput, MetaLearner

__all__ = [
    "Adversary",
    "AdversaryOutput",
    "Backbone",
    "Benchmark",
    "CONTRACTS",
    "Generator",
    "LearnerOutput",
    "MetaLearner",
    "check_part",
]
