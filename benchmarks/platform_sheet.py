"""The platform domain's contact sheet: catalogue renderings and their photographs, side by side, as a PNG.

Why. The camera's strength decides how hard the shift is, and a reader should see what a learner is asked to
recognise before reading its accuracy. Each row of the sheet is one character: its clean print rendering (the
source domain), then the photographs of that very rendering at the strengths given, as the benchmark serves them
(the cached photographs at the strength ``domains=platform`` uses by default, and fresh ones at the others).

    python -m benchmarks.platform_sheet                 # docs/platform-contact-sheet.png, 16 and 28 px
    python -m benchmarks.platform_sheet --out sheet.png --characters 10 --strengths 0.25,0.5,1
"""
from __future__ import annotations

import argparse
import warnings

import torch

from metareg import torch_generator
from metareg_plugins.glyph_world import GlyphWorld, camera, photos


def sheet(image_size: int, characters: int, strengths: list[float], renderings: int = 2) -> torch.Tensor:
    """[rows, 1 + len(strengths)] tiles of ``renderings`` print renderings per character: a float grid image."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bench = GlyphWorld(GlyphWorld.Config(domains="platform", image_size=image_size))
    codes = sorted(bench.indices["test"])
    pick = torch.randperm(len(codes), generator=torch_generator(0, "contact-sheet"))[:characters]
    rows = []
    for code in sorted(codes[i] for i in pick.tolist()):
        for r in bench.world.rows_of(code, False)[:renderings]:
            clean = bench.world.images[r:r + 1].float() / 255
            seed = photos.photo_seed(bench.world, r, bench.config.render_seed)
            shots = [camera.photograph(clean, [seed], s) for s in strengths]
            rows.append(torch.cat([clean] + shots, dim=3))  # one row: clean, then each strength
    return torch.cat(rows, dim=2)[0, 0]


def main(argv: list[str] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="docs/platform-contact-sheet.png")
    p.add_argument("--characters", type=int, default=8)
    p.add_argument("--strengths", default="0.25,0.5,1")
    p.add_argument("--sizes", default="16,28")
    args = p.parse_args(argv)
    strengths = [float(s) for s in args.strengths.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    fig, axes = plt.subplots(1, len(sizes), figsize=(3.2 * len(sizes) * (1 + len(strengths)) / 4, 9),
                             squeeze=False)
    for ax, size in zip(axes[0], sizes):
        ax.imshow(sheet(size, args.characters, strengths).numpy(), cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_xticks([size * (i + 0.5) for i in range(1 + len(strengths))],
                      ["print"] + [f"{s:g}" for s in strengths], fontsize=8)
        ax.set_xlabel("print, then camera strength", fontsize=8)
        ax.set_yticks([])
        ax.set_title(f"{size} x {size} px", fontsize=9)
    fig.suptitle("glyph-world domains=platform: test characters, print renderings and their photographs",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
