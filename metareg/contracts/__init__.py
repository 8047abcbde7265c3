"""One contract per family: the base class a registered part must subclass, and what the engine calls on it."""
from metareg.contracts.adversary import Adversary, AdversaryOutput
from metareg.contracts.backbone import Backbone
from metareg.contracts.benchmark import Benchmark
from metareg.contracts.check import FAMILIES, check_part
from metareg.contracts.generator import Generator
from metareg.contracts.learner import LearnerOutput, MetaLearner

__all__ = [
    "Adversary",
    "AdversaryOutput",
    "Backbone",
    "Benchmark",
    "FAMILIES",
    "Generator",
    "LearnerOutput",
    "MetaLearner",
    "check_part",
]
