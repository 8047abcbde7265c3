"""The folder benchmark contract: episodes from a dataset on disk, in one of the layouts, never downloaded."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

import metareg
from metareg import POOL_REGIMES, TEST_DOMAINS, TRAIN_DOMAINS, VAL_DOMAINS, EpisodeSplits, split_items
from metareg_plugins.folder.images import ImageCache
from metareg_plugins.folder.layouts import (EXAMPLES, LAYOUT_POOLS, LAYOUTS, layout_error, name_list,
                                            scan_miniimagenet, scan_office, scan_omniglot)

#: the domain settings and their defaults: any other value needs the office layout with a target domain
DOMAIN_SETTINGS = (("test_domain", "target"), ("train_domain", "source"), ("val_domain", "source"))


class Folder(metareg.Benchmark):
    """A dataset you have on disk, in one of three usual layouts (``layout``); ``path`` is its folder.

    - ``omniglot`` (path/<alphabet>/<character>/*.png; alphabets are domains): ``source`` and ``target`` name
      alphabets (comma-separated; one of them may be left empty to mean "all the others"). With neither given, the
      alphabets under images_background/ are the source and those under images_evaluation/ the target (Lake et
      al.'s split), or, without those folders, a seeded ``test_fraction`` of the alphabets is the target. Meta-train
      = source classes, val = held-out source classes (``val_fraction``), test = target classes. Pool: ``disjoint``
      only, the images of the *other* target classes (``pool_fraction`` of them); a source character has no images
      in a target alphabet, so ``pool=shared`` is a ConfigError.
    - ``office`` (Office-31 / Office-Home: path/<domain>/<class>/*.jpg): ``source`` and ``target`` name domains.
      The classes (those both sides have) are split into meta-train, val (``val_fraction``) and test
      (``test_fraction``) classes; train and val episodes use source-domain images, test episodes target-domain
      images of the test classes. Pool: ``shared`` (the default), the target-domain images of the meta-train
      classes (the cross-platform regime); or ``disjoint``, a seeded ``pool_fraction`` of the meta-train classes is
      held out of training (so it meta-trains on fewer classes) and their target-domain images are the pool; val
      and test are unchanged.
    - ``miniimagenet`` (split CSVs or train/val/test folders): the dataset's own class splits; no domain shift, so
      ``target_pool`` is None.

    With ``target=none`` (or the same as the source), omniglot and office split the source classes three ways
    (``val_fraction``, ``test_fraction``) and have no target pool. Classes with fewer than k_shot + n_query images
    cannot make an episode and are dropped with a warning (Office-31's dslr has classes of 7 images); they are listed
    in ``dropped``, and a dropped training class leaves the ``shared`` pool too.

    The unlabelled target pool (``pool``) has two regimes: ``shared``, target-domain images of the *training*
    classes, and ``disjoint``, target-domain images of classes that are neither training nor test classes;
    ``auto`` (the default) is the layout's own (above), and a regime a layout cannot build (``miniimagenet`` or
    ``target=none``: no target domain; omniglot: ``shared``) is a ConfigError naming the fix. In both regimes test
    classes and test images never reach training or the pool and the val and test splits are the same; ``pool`` is
    a pool-only setting, so the engine evaluates both regimes on the very same episodes.

    Headroom rows (``office`` layout with a target only; elsewhere anything but the defaults is a ConfigError):
    ``test_domain=source`` tests on source-domain images of the same test classes, a seeded subset of as many as
    the class has target images, so the engine draws the very same episodes (a class with fewer source than target
    images is a ConfigError naming it: swap the domains or keep ``target``); ``train_domain=target`` (the oracle)
    meta-trains on the target-domain images of the training classes, labelled, and ``both`` on both domains'.
    Validation stays on the source domain.

    ``indices`` maps "train", "val", "test" and "pool" to {class: image paths}, so the splits can be checked
    disjoint; "pool" is empty without a target domain.

    Config:
        path: the dataset folder (nothing is downloaded).
        layout: omniglot, office or miniimagenet.
        source, target: domains (omniglot alphabets, office domains), comma-separated; target "none" for no shift.
        n_way, k_shot, n_query: episode shape (queries per class).
        image_size: side of the resized images; 0 means 28 for omniglot and 84 for the others.
        val_fraction: share of the source classes held out for validation.
        test_fraction: office and no-shift: share of the classes for testing; omniglot without source/target: share
            of the alphabets that form the target domain.
        pool: ``auto``, ``shared`` or ``disjoint`` (above).
        pool_fraction: omniglot: share of the target classes whose images form the unlabelled pool; office with
            pool=disjoint: share of the meta-train classes held out for the pool.
        test_domain: ``target`` or ``source``; train_domain: ``source``, ``target`` or ``both`` (above).
        val_domain: ``source`` (default) or ``target`` (office layout with a target): validation episodes of the
            validation classes' target-domain images, labelled (``metareg tune --select target-val``, an oracle).
        split_seed: the class (and alphabet) splits.
        cache_images: decoded images kept in memory (0: no cache).

    Example:
        metareg bench --learner protonet --benchmark folder benchmark.folder.path=~/data/omniglot \\
            benchmark.folder.source=Latin,Greek benchmark.folder.target=Cyrillic
        metareg bench --learner protonet --adversary dann --benchmark folder benchmark.folder.layout=office \\
            benchmark.folder.path=~/data/office31 benchmark.folder.source=amazon benchmark.folder.target=webcam \\
            benchmark.folder.pool=disjoint
    """

    name = "folder"
    pool_only_settings = {"pool": "disjoint"}
    task_kind = "classification"
    default_backbone = "conv4"
    # image decoding is lazy, so the first pass over the data is slower than the others
    train_defaults = dict(metareg.IMAGE_TRAIN_DEFAULTS)

    @dataclass
    class Config:
        path: str = ""
        layout: str = "omniglot"
        source: str = ""
        target: str = ""
        n_way: int = 5
        k_shot: int = 1
        n_query: int = 15
        image_size: int = 0
        val_fraction: float = 0.2
        test_fraction: float = 0.3
        pool_fraction: float = 0.3
        pool: str = "auto"
        test_domain: str = "target"
        train_domain: str = "source"
        val_domain: str = "source"
        split_seed: int = 0
        cache_images: int = 20000

    ranges = {"n_way": metareg.Range.at_least(2), "k_shot": metareg.Range.at_least(1),
              "n_query": metareg.Range.at_least(1), "image_size": metareg.Range.at_least(8).allowing(0),
              **dict.fromkeys(("val_fraction", "test_fraction", "pool_fraction"),
                              metareg.Range.above(0) & metareg.Range.below(1)),
              "split_seed": metareg.Range.seed(), "cache_images": metareg.Range.at_least(0),
              "pool": metareg.Choice("auto", *POOL_REGIMES), "test_domain": metareg.Choice(*TEST_DOMAINS),
              "train_domain": metareg.Choice(*TRAIN_DOMAINS),
              "val_domain": metareg.Choice(*VAL_DOMAINS)}

    def __init__(self, config):
        super().__init__(config)
        c = config
        if c.layout not in LAYOUTS:
            raise metareg.ConfigError(f"benchmark.folder.layout: {c.layout!r} is not one of {', '.join(LAYOUTS)}")
        self.check_settings(c)  # resolution ran it too; a benchmark built by hand is held to it here
        if not c.path:
            raise metareg.ConfigError(
                f"benchmark.folder.path is not set: give the folder of your {c.layout} dataset, e.g. "
                f"benchmark.folder.path=~/data/{c.layout}; the {c.layout!r} layout expects\n"
                + EXAMPLES[c.layout].format(path="~/data/" + c.layout)
            )
        self.path = path = Path(c.path).expanduser()
        if not path.is_dir():
            raise layout_error(path, c.layout, "does not exist" if not path.exists() else "is not a folder")
        image_size = c.image_size or (28 if c.layout == "omniglot" else 84)
        channels = 1 if c.layout == "omniglot" else 3
        self.load = ImageCache(image_size, grayscale=channels == 1, invert=c.layout == "omniglot",
                               capacity=c.cache_images)
        self.source: list[str] = []
        self.target: list[str] = []
        self.pool_regime: str | None = None  # what the pool holds: "shared", "disjoint", or None without a target
        parts = getattr(self, f"_split_{c.layout}")(path)  # split -> {class: files}, with "pool"
        self._check_domain_settings()
        self.dropped: dict[str, list[str]] = {}
        per_class = c.k_shot + c.n_query
        for split in ("train", "val", "test"):
            small = sorted(k for k, v in parts[split].items() if len(v) < per_class)
            if small:
                self.dropped[split] = small
                warnings.warn(f"benchmark folder: {len(small)} {split} classes have fewer than k_shot + n_query = "
                              f"{per_class} images and are left out (e.g. {small[0]})", stacklevel=2)
                parts[split] = {k: v for k, v in parts[split].items() if k not in small}
        if self.pool_regime == "shared":  # the pool follows the training classes that are left
            parts["pool"] = {k: v for k, v in parts["pool"].items() if k in parts["train"]}
        self.indices = {split: {k: list(v) for k, v in by_class.items()} for split, by_class in parts.items()}
        self.pool_files = [f for files in parts["pool"].values() for f in files]
        self.episodes = EpisodeSplits(
            {split: parts[split] for split in ("train", "val", "test")}, (channels, image_size, image_size), c.n_way,
            c.k_shot, c.n_query, key="benchmark.folder", load=self.load,
            fewer_classes=f"lower n_way (or n_query), or change the split fractions or domains of {str(path)!r}",
            smaller_classes="lower n_query")  # never: smaller classes were dropped above
        for split, pool in self.episodes.pools.items():
            first = next(iter(pool.by_class.values()))[0]
            try:
                self.load.decode(first)
            except Exception as exc:
                raise metareg.ConfigError(f"benchmark.folder: cannot read image {str(first)!r}: {exc}") from None
        self.pools, self.spec = self.episodes.pools, self.episodes.spec

    @classmethod
    def check_settings(cls, config) -> None:
        """The rules that tie settings together without reading the folder (each value's own: ``ranges``)."""
        cls._check(config)
        no_target = config.target.strip().lower() == "none"
        for key, default in DOMAIN_SETTINGS:
            if getattr(config, key) != default and (config.layout != "office" or no_target):
                cls._domain_setting_error(config, key, default, "omniglot" if config.layout == "omniglot"
                                          else f"the {config.layout} layout here has no target domain")

    @staticmethod
    def _domain_setting_error(c, key: str, default: str, why: str):
        if why == "omniglot":
            why = "an omniglot character belongs to one alphabet, so it has no images in the other domain"
        raise metareg.ConfigError(f"benchmark.folder.{key}={getattr(c, key)} needs the office layout with a "
                                  f"target domain: {why}; leave benchmark.folder.{key}={default}")

    @staticmethod
    def _check(c) -> None:
        if c.val_fraction + c.test_fraction >= 1:  # each fraction's own range is declared in ``ranges``
            raise metareg.ConfigError(
                f"benchmark.folder: val_fraction + test_fraction must be below 1 (they leave the rest of each "
                f"domain's classes to meta-training), got {c.val_fraction} + {c.test_fraction}")

    def _check_domain_settings(self) -> None:
        """``test_domain``/``train_domain``/``val_domain`` other than the defaults need the office layout with a target domain,
        whose domains share classes (after the split, which sets ``target``)."""
        c = self.config
        for key, default in DOMAIN_SETTINGS:
            if getattr(c, key) != default and (c.layout != "office" or not self.target):
                self._domain_setting_error(c, key, default, "omniglot" if c.layout == "omniglot"
                                           else f"the {c.layout} layout here has no target domain")

    # --------------------------------------------------------------------------------------------------- splits
    def _domains(self, available: list[str], what: str, default: tuple[list[str], list[str]] | None):
        """(source, target) domain names from the config, checked against ``available``; target [] = no shift.
        Sets ``source``, ``target`` and ``pool_regime``."""
        c = self.config
        source, target = name_list(c.source), name_list(c.target)
        no_shift = c.target.strip().lower() == "none"
        for name in source + target:
            if name not in available:
                raise metareg.ConfigError(
                    f"benchmark.folder: {what} {name!r} is not in {str(self.path)!r}; found: {', '.join(available)}"
                )
        if not source and not target and not no_shift:
            if default is None:
                raise metareg.ConfigError(
                    f"benchmark.folder: name the source and target {what}s, e.g. benchmark.folder.source="
                    f"{available[0]} benchmark.folder.target={available[-1]}; found: {', '.join(available)}"
                )
            source, target = default
        elif not source:
            source = [a for a in available if a not in target]
        elif not target and not no_shift:
            target = [a for a in available if a not in source]
        if target == source:
            target = []
        if set(source) & set(target):
            raise metareg.ConfigError(f"benchmark.folder: {', '.join(sorted(set(source) & set(target)))} is both a "
                                      f"source and a target {what}; use target=none for no domain shift")
        if not source:
            raise metareg.ConfigError(f"benchmark.folder: no source {what} left; found: {', '.join(available)}")
        self.source, self.target = source, target
        self.pool_regime = self._pool_regime()
        return source, target

    def _pool_regime(self) -> str | None:
        """The pool regime ``pool`` asks for (``auto``: the layout's own), None without a target domain."""
        c = self.config
        regimes = LAYOUT_POOLS[c.layout] if self.target else ()
        if c.pool == "auto":
            return regimes[0] if regimes else None
        if c.pool in regimes:
            return c.pool
        if not regimes:
            where = "has no domains" if c.layout == "miniimagenet" else "with target=none has no target domain"
            raise metareg.ConfigError(f"benchmark.folder.pool={c.pool}: the {c.layout} layout {where}, so there is "
                                      f"no unlabelled target pool; leave benchmark.folder.pool=auto")
        raise metareg.ConfigError(
            f"benchmark.folder.pool={c.pool} needs target-domain images of the training classes, and an omniglot "
            f"character belongs to one alphabet (a source character has no images in a target alphabet); use "
            f"benchmark.folder.pool=disjoint (or auto), or the office layout, whose domains share classes")

    def _three_way(self, by_class: dict[str, list[Path]]) -> dict[str, dict[str, list[Path]]]:
        c = self.config
        keys = sorted(by_class)
        if len(keys) < 3:
            raise layout_error(self.path, c.layout, f"found {len(keys)} classes, too few to split into "
                                                     f"meta-train, val and test")
        train, val, test = split_items(keys, [1 - c.val_fraction - c.test_fraction, c.val_fraction,
                                              c.test_fraction], c.split_seed)
        return {"train": {k: by_class[k] for k in train}, "val": {k: by_class[k] for k in val},
                "test": {k: by_class[k] for k in test}, "pool": {}}

    def _split_omniglot(self, path: Path):
        c = self.config
        alphabets, background = scan_omniglot(path)
        names = sorted(alphabets)
        if background and len(background) < len(names):
            default = (sorted(background), [a for a in names if a not in background])
        elif len(names) >= 2:
            rest, target = split_items(names, [1 - c.test_fraction, c.test_fraction], c.split_seed)
            default = (sorted(rest), sorted(target))
        else:
            default = (names, [])
        source, target = self._domains(names, "alphabet", default)

        def classes(group):
            return {f"{a}/{ch}": files for a in group for ch, files in alphabets[a].items()}

        if not target:
            return self._three_way(classes(source))
        src, tgt = classes(source), classes(target)
        for group, what in ((src, "source"), (tgt, "target")):
            if len(group) < 2:
                raise layout_error(path, "omniglot", f"the {what} alphabets have {len(group)} characters; at least "
                                                      f"2 are needed to split them")
        parts = metareg.split_domains(sorted(src), sorted(tgt), c.val_fraction, c.pool_fraction, c.split_seed)
        files = {**src, **tgt}  # the alphabets of the two groups differ, so no key is in both
        return {split: {k: files[k] for k in keys} for split, keys in parts.items()}

    def _split_office(self, path: Path):
        c = self.config
        domains = scan_office(path)
        names = sorted(domains)
        source, target = self._domains(names, "domain", None)

        def merged(group):
            out: dict[str, list[Path]] = {}
            for d in group:
                for k, files in domains[d].items():
                    out.setdefault(k, []).extend(files)
            return out

        src = merged(source)
        if not target:
            return self._three_way(src)
        tgt = merged(target)
        keys = sorted(set(src) & set(tgt))
        if len(keys) < 3:
            raise layout_error(path, "office", f"domains {', '.join(source)} and {', '.join(target)} share "
                                                f"{len(keys)} class folders; at least 3 are needed")
        train, val, test = split_items(keys, [1 - c.val_fraction - c.test_fraction, c.val_fraction, c.test_fraction],
                                       c.split_seed)
        pool = train
        if self.pool_regime == "disjoint":  # hold a seeded share of the meta-training classes out for the pool
            kept = []
            if len(train) >= 2:
                pool, kept = split_items(train, [c.pool_fraction, 1 - c.pool_fraction], c.split_seed + 1)
            if len(kept) < c.n_way:
                raise metareg.ConfigError(
                    f"benchmark.folder.pool=disjoint holds pool_fraction={c.pool_fraction} of the {len(train)} "
                    f"meta-training classes out for the pool, leaving {len(kept)}, fewer than n_way={c.n_way}; lower "
                    f"benchmark.folder.pool_fraction, n_way, val_fraction or test_fraction, or use "
                    f"benchmark.folder.pool=shared")
            train = kept
        return {"train": {k: self._train_files(src[k], tgt[k]) for k in train}, "val": {k: tgt[k] if c.val_domain == "target" else src[k] for k in val},
                "test": {k: self._test_files(k, src[k], tgt[k]) for k in test}, "pool": {k: tgt[k] for k in pool}}

    def _train_files(self, source: list[Path], target: list[Path]) -> list[Path]:
        """A training class's images in ``train_domain``."""
        domain = self.config.train_domain
        return list(source) if domain == "source" else list(target) if domain == "target" else [*source, *target]

    def _test_files(self, key: str, source: list[Path], target: list[Path]) -> list[Path]:
        """A test class's target images, or (``test_domain=source``) a seeded choice of as many source images, so
        an episode of either holds the same classes at the same sample positions."""
        c = self.config
        if c.test_domain == "target":
            return target
        if len(source) < len(target):
            raise metareg.ConfigError(
                f"benchmark.folder.test_domain=source: test class {key!r} has {len(source)} images in "
                f"{', '.join(self.source)}, fewer than its {len(target)} in {', '.join(self.target)}, so its source "
                f"episodes cannot match the target's; swap source and target, or use test_domain=target")
        pick = torch.randperm(len(source), generator=metareg.torch_generator(c.split_seed, "source-test", key))
        return [source[i] for i in sorted(pick[:len(target)].tolist())]

    def _split_miniimagenet(self, path: Path):
        c = self.config
        if name_list(c.source) or (name_list(c.target) and c.target.strip().lower() != "none"):
            raise metareg.ConfigError("benchmark.folder: the miniimagenet layout has no domains; leave source and "
                                      "target empty")
        self.pool_regime = self._pool_regime()
        splits = scan_miniimagenet(path)
        return {**splits, "pool": {}}

    # ----------------------------------------------------------------------------------------------- contract
    def load_inputs(self, paths):
        """Image files decoded as the dataset's own (``ImageCache.decode``: channels, size, omniglot's inversion),
        in [0, 1], not cached."""
        return torch.stack([self.load.decode(Path(p)) for p in paths]).float().div_(255)

    def sample(self, split, n_tasks, generator):
        return self.episodes.sample(split, n_tasks, generator)

    def target_pool(self, n, generator):
        """``n`` unlabelled target-domain images (drawn with replacement) from the pool; never a test image."""
        if not self.pool_files:
            return None
        pick = torch.randint(len(self.pool_files), (n,), generator=generator).tolist()
        return self.load([self.pool_files[i] for i in pick])
