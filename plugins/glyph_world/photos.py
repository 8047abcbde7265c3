"""The platform domain's photographs: every print rendering of a world through the seeded camera, made once, cached.

Photographing the default world's 62,718 print renderings takes ~20 s on 2 cores (docs/results.md, "The platform
domain"), and the probe and every grid cell build the benchmark again, so the photographs are cached beside the
world (``$METAREG_CACHE/glyph-world-photos``) as uint8, as the world's renderings are, keyed by the world's own cache
file (itself named by the sha256 of the world's recipe), ``camera.CAMERA_VERSION``, the strength and the seed.

Each rendering's photograph is seeded by its identity in the world (code point, face file, copy) and the seed, not by
its row, so adding a script or a face to the world leaves every other rendering's photograph as it was.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from metareg import seed_hash
from metareg_plugins.glyph_core.cache import cached
from metareg_plugins.glyph_world import camera
from metareg_plugins.glyph_world.world import World


def photo_seed(world: World, row: int, seed: int) -> int:
    """The camera seed of one rendering's photograph: its identity in the world (code point, face file, copy)."""
    data = world.data
    return seed_hash(seed, "photo", int(data["code"][row]), world.face_names[int(data["face"][row])],
                     int(data["copy"][row]))


def load_or_photograph(world: World, world_file: Path, strength: float, seed: int
                       ) -> tuple[torch.Tensor, np.ndarray]:
    """The photographs of the world's print renderings, uint8 ``[M, 1, S, S]``, and the world rows they show
    (ascending)."""
    rows = np.flatnonzero(~world.handwritten_row.astype(bool)) if len(world.handwritten_row) else np.zeros(0, int)
    recipe = {"world": world_file.name, "camera": camera.CAMERA_VERSION, "strength": float(strength),
              "seed": int(seed)}

    def make() -> dict[str, np.ndarray]:
        seeds = [photo_seed(world, r, seed) for r in rows.tolist()]
        clean = world.images[torch.from_numpy(rows)].float().div_(255)
        shot = camera.photograph(clean, seeds, float(strength))
        return {"images": shot.mul_(255).round_().clamp_(0, 255).to(torch.uint8).squeeze(1).numpy(),
                "rows": rows.astype(np.int64)}

    data, _, _ = cached("glyph-world-photos", recipe, make)
    return torch.from_numpy(data["images"]).unsqueeze(1), data["rows"]
