"""The class split of the style domains; a pure function of class lists and a seed, so it is easy to pin. The script
domains split with ``metareg.split_domains``, as glyphs' and folder's Omniglot do.

Both kinds hold a set of classes out of training for the unlabelled pool's ``disjoint`` regime whichever regime is
chosen, so a ``shared`` and a ``disjoint`` run train, validate and test on the very same classes and differ only in
what the adversary sees (and the engine evaluates both on the same
episodes: ``pool`` is a pool-only setting).
"""
from __future__ import annotations

from metareg import split_items


def style_split(printed: list[int], handwritten: list[int], val_fraction: float, test_fraction: float,
                pool_fraction: float, seed: int) -> dict[str, list[int]]:
    """Print to handwriting: ``test_fraction`` of the characters handwriting faces draw are test classes and
    ``pool_fraction`` of them pool classes; every other character print faces draw is a train or val class.

    ``printed`` and ``handwritten`` are the characters drawn by enough print and handwriting faces; the rest of
    ``handwritten`` (neither test nor pool) trains like any printed character, and its handwritten renderings are
    what the ``shared`` pool holds.
    """
    _, pool, test = split_items(handwritten, [1 - test_fraction - pool_fraction, pool_fraction, test_fraction],
                                seed + 1)
    held = set(pool) | set(test)
    train, val = split_items([c for c in printed if c not in held], [1 - val_fraction, val_fraction], seed)
    return {"train": train, "val": val, "test": test, "pool": pool}


def platform_split(printed: list[int], val_fraction: float, test_fraction: float, pool_fraction: float,
                   seed: int) -> dict[str, list[int]]:
    """Catalogue to photograph: every character print faces draw is in exactly one of the four splits,
    ``test_fraction`` of them test classes, ``pool_fraction`` pool classes, and of the rest ``val_fraction``
    validation classes. The photographs are of the same renderings, so one character list serves both domains."""
    rest, pool, test = split_items(printed, [1 - test_fraction - pool_fraction, pool_fraction, test_fraction],
                                   seed + 1)
    train, val = split_items(rest, [1 - val_fraction, val_fraction], seed)
    return {"train": train, "val": val, "test": test, "pool": pool}
