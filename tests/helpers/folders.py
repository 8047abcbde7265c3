"""Tiny image datasets written to disk with Pillow in the Omniglot, Office and mini-ImageNet layouts, and the
keys that tell their images and files apart, for the folder benchmark's tests."""
from __future__ import annotations

from pathlib import Path
import csv

from PIL import Image
import numpy as np
import torch

from metareg_plugins.folder import Folder


SIZE = 12  # the files are written at this size, so loading does not resize and every image stays distinct


EPISODE = dict(n_way=2, k_shot=1, n_query=2, image_size=SIZE)


def write_image(path: Path, rng: np.random.Generator, rgb: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (SIZE, SIZE, 3) if rgb else (SIZE, SIZE)
    pixels = np.where(rng.random(shape) < 0.8, 255, 0).astype(np.uint8)  # white page, black "ink": Omniglot-like
    Image.fromarray(pixels).save(path)  # the format follows the suffix (PNG or JPEG)


def make_omniglot(root: Path, split_folders: bool = True, alphabets: int = 4, chars: int = 5, images: int = 4) -> Path:
    rng = np.random.default_rng(0)
    for a in range(alphabets):
        group = ("images_background" if a < alphabets // 2 else "images_evaluation") if split_folders else "."
        for c in range(chars):
            for i in range(images):
                write_image(root / group / f"Alphabet{a}" / f"character{c:02d}" / f"{c:04d}_{i:02d}.png", rng)
    return root


def make_office(root: Path, classes: int = 8, images: int = 4) -> Path:
    rng = np.random.default_rng(1)
    for domain in ("amazon", "webcam", "dslr"):
        base = root / domain / "images" if domain == "amazon" else root / domain  # Office-31 has the images/ level
        for c in range(classes):
            for i in range(images):
                write_image(base / f"class{c}" / f"frame_{i:04d}.jpg", rng, rgb=True)
    return root


def make_miniimagenet(root: Path, as_csv: bool = True, per_split: int = 3, images: int = 4) -> Path:
    rng = np.random.default_rng(2)
    for s, split in enumerate(("train", "val", "test")):
        rows = []
        for c in range(per_split):
            label = f"n0{s}{c:06d}"
            for i in range(images):
                name = f"{label}{i:08d}.jpg"
                write_image((root / "images" / name) if as_csv else (root / split / label / name), rng, rgb=True)
                rows.append((name, label))
        if as_csv:
            with open(root / f"{split}.csv", "w", newline="") as f:
                csv.writer(f).writerows([("filename", "label"), *rows])
    return root


def pixel_keys(t: torch.Tensor) -> set[bytes]:
    return {im.numpy().tobytes() for im in t.reshape(-1, *t.shape[-3:])}


def episode_files(bench: Folder, split: str) -> set[Path]:
    return {f for files in bench.indices[split].values() for f in files}
