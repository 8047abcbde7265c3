"""A generator small enough for a test (MT-GAN's config at a few updates) and the digits-shift benchmark it fits."""
from __future__ import annotations

from metareg.run.config import part_config, resolve
from metareg_plugins.mtgan import MTGAN


#: an MT-GAN small enough for a test: a few outer steps of tiny networks
TINY_GAN = MTGAN.Config(z_dim=4, width=8, meta_iterations=2, meta_batch=2, inner_steps=2, batch_size=8, n_aug=3,
                        finetune_steps=2)


def digits_shift(registry, **overrides):
    settings = [("benchmark.digits-shift.image_size", 16), ("benchmark.digits-shift.n_query", 2)]
    settings += [(f"benchmark.digits-shift.{k}", v) for k, v in overrides.items()]
    cfg, selection = resolve(registry, settings, {"learner": "protonet", "benchmark": "digits-shift"})
    return selection.benchmark.cls(part_config(cfg, "benchmark"))
