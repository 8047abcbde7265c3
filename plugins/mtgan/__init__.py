"""MT-GAN, the built-in generator (``MTGAN``): a reference-conditioned GAN meta-trained across source domains.

Modules, one idea each: ``nets`` (the generator and pair-discriminator networks), ``meta`` (the GAN objective and
its Reptile meta-training) and ``generator`` (the generator contract: meta-training once per benchmark and seed,
checkpoints, fine-tuning to a task, augmenting support sets).
"""
from __future__ import annotations

import metareg
from metareg_plugins.mtgan.generator import MTGAN

__all__ = ["MTGAN"]


@metareg.hookimpl
def metareg_register_generators(register):
    register(MTGAN)
