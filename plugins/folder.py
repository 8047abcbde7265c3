"""Few-shot episodes from a dataset already on disk (Omniglot, Office-31/Office-Home, mini-ImageNet); never downloads.

Images are read with Pillow lazily, when an episode first needs them, and kept decoded (uint8, resized) in a bounded
in-memory cache (``cache_images``), so constructing the benchmark only lists files: mini-ImageNet's 60,000 images
would take minutes to decode and ~1.3 GB to hold at 84x84. Omniglot is grayscale with the ink as 1 (its PNGs are
black strokes on white, inverted here to match ``digits`` and ``glyphs``); the others are RGB. Every image is resized
to ``image_size`` x ``image_size`` (no aspect-preserving crop, as the mini-ImageNet and Office papers do) and scaled
to [0, 1].
"""
from __future__ import annotations

import csv
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch

import metareg
from metareg.contracts.benchmark import POOL_REGIMES
from metareg.tasks import TaskBatch, TaskSpec, split_items

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".pgm", ".tif", ".tiff")
LAYOUTS = ("omniglot", "office", "miniimagenet")
#: the pool regimes each layout can build when it has a target domain, the one ``pool=auto`` picks first
LAYOUT_POOLS = {"omniglot": ("disjoint",), "office": ("shared", "disjoint"), "miniimagenet": ()}

#: an example tree per layout, shown in every error about the path or its layout
EXAMPLES = {
    "omniglot": """\
    {path}/                      (or {path}/images_background/ and {path}/images_evaluation/ holding the alphabets)
      Latin/                     one folder per alphabet (a domain)
        character01/             one folder per character (a class)
          0001_01.png            one image per drawer
      Greek/
        character01/ ...""",
    "office": """\
    {path}/
      amazon/                    one folder per domain (Office-31: amazon, dslr, webcam; Office-Home: Art, ...)
        back_pack/               one folder per class (an optional images/ level between is accepted)
          frame_0001.jpg
      webcam/
        back_pack/ ...""",
    "miniimagenet": """\
    {path}/                      either the split CSVs of Ravi & Larochelle:
      images/n0153282900000005.jpg
      train.csv  val.csv  test.csv     (columns: filename,label)
    or one folder per split:
    {path}/
      train/n01532829/n0153282900000005.jpg
      val/<class>/*.jpg
      test/<class>/*.jpg""",
}


def _layout_error(path: Path, layout: str, problem: str) -> metareg.ConfigError:
    return metareg.ConfigError(
        f"benchmark.folder.path={str(path)!r}: {problem}; the {layout!r} layout expects\n"
        + EXAMPLES[layout].format(path=path)
    )


def _subdirs(p: Path) -> list[Path]:
    return sorted(d for d in p.iterdir() if d.is_dir() and not d.name.startswith("."))


def _images(p: Path) -> list[Path]:
    return sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()
                  and not f.name.startswith("."))


def _names(value: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    return [] if [n.lower() for n in names] == ["none"] else list(dict.fromkeys(names))


# ------------------------------------------------------------------------------------------------------- layouts
def scan_omniglot(path: Path) -> tuple[dict[str, dict[str, list[Path]]], list[str]]:
    """{alphabet: {character: images}} and the background alphabets (those under images_background/, if any)."""
    roots = [path / name for name in ("images_background", "images_evaluation") if (path / name).is_dir()]
    background: list[str] = []
    alphabets: dict[str, dict[str, list[Path]]] = {}
    for root in roots or [path]:
        if _images(root):
            raise _layout_error(path, "omniglot", f"found images directly in {str(root)!r}, not in "
                                                  f"<alphabet>/<character>/ folders")
        for alphabet in _subdirs(root):
            if _images(alphabet):
                raise _layout_error(path, "omniglot", f"found images directly in the alphabet folder "
                                                      f"{str(alphabet)!r}; they belong in one folder per character")
            chars = {c.name: _images(c) for c in _subdirs(alphabet)}
            chars = {k: v for k, v in chars.items() if v}
            if chars:
                if alphabet.name in alphabets:
                    raise _layout_error(path, "omniglot", f"alphabet {alphabet.name!r} appears twice")
                alphabets[alphabet.name] = chars
                if root.name == "images_background":
                    background.append(alphabet.name)
    if not alphabets:
        raise _layout_error(path, "omniglot", "found no <alphabet>/<character>/<image> files")
    return alphabets, background


def scan_office(path: Path) -> dict[str, dict[str, list[Path]]]:
    """{domain: {class: images}}; Office-31's extra images/ level (amazon/images/back_pack/) is accepted."""
    domains: dict[str, dict[str, list[Path]]] = {}
    if _images(path):
        raise _layout_error(path, "office", f"found images directly in {str(path)!r}, not in <domain>/<class>/")
    for domain in _subdirs(path):
        root = domain / "images" if (domain / "images").is_dir() and not _images(domain / "images") else domain
        if _images(root):
            raise _layout_error(path, "office", f"found images directly in the domain folder {str(root)!r}; they "
                                                f"belong in one folder per class")
        classes = {c.name: _images(c) for c in _subdirs(root)}
        classes = {k: v for k, v in classes.items() if v}
        if classes:
            domains[domain.name] = classes
    if not domains:
        raise _layout_error(path, "office", "found no <domain>/<class>/<image> files")
    return domains


def scan_miniimagenet(path: Path) -> dict[str, dict[str, list[Path]]]:
    """{split: {class: images}} from the split CSVs (preferred) or from train/, val/ and test/ folders."""
    csvs = {s: path / f"{s}.csv" for s in ("train", "val", "test")}
    splits: dict[str, dict[str, list[Path]]] = {}
    if any(p.is_file() for p in csvs.values()):
        missing = [p.name for p in csvs.values() if not p.is_file()]
        if missing:
            raise _layout_error(path, "miniimagenet", f"missing {', '.join(missing)}")
        images = path / "images"
        if not images.is_dir():
            raise _layout_error(path, "miniimagenet", "the split CSVs are there but the images/ folder is not")
        for split, csv_path in csvs.items():
            by_class: dict[str, list[Path]] = {}
            with open(csv_path, newline="") as f:
                reader = csv.DictReader(f)
                if reader.fieldnames is None or not {"filename", "label"} <= set(reader.fieldnames):
                    raise _layout_error(path, "miniimagenet", f"{csv_path.name} needs a header with columns "
                                                              f"filename,label (got {reader.fieldnames})")
                for row in reader:
                    file = images / row["filename"]
                    if not file.is_file():
                        raise _layout_error(path, "miniimagenet", f"{csv_path.name} names {row['filename']!r}, "
                                                                  f"which is not in images/")
                    by_class.setdefault(row["label"], []).append(file)
            splits[split] = by_class
    elif all((path / s).is_dir() for s in ("train", "val", "test")):
        for split in ("train", "val", "test"):
            if _images(path / split):
                raise _layout_error(path, "miniimagenet", f"found images directly in {split}/, not in "
                                                          f"{split}/<class>/")
            splits[split] = {c.name: _images(c) for c in _subdirs(path / split) if _images(c)}
    else:
        raise _layout_error(path, "miniimagenet", "found neither train.csv/val.csv/test.csv nor train/, val/ and "
                                                  "test/ folders")
    for split, by_class in splits.items():
        if not by_class:
            raise _layout_error(path, "miniimagenet", f"the {split} split has no images")
    for a in splits:
        for b in splits:
            if a < b and set(splits[a]) & set(splits[b]):
                shared = sorted(set(splits[a]) & set(splits[b]))
                raise _layout_error(path, "miniimagenet", f"the {a} and {b} splits share classes ({shared[0]}, ...); "
                                                          f"meta-train/val/test classes must be disjoint")
    return splits


# ------------------------------------------------------------------------------------------------------- loading
class ImageCache:
    """Decodes image files into uint8 tensors [C, S, S], keeping the ``capacity`` most recently used."""

    def __init__(self, image_size: int, grayscale: bool, invert: bool, capacity: int):
        self.size, self.grayscale, self.invert, self.capacity = image_size, grayscale, invert, capacity
        self._cache: OrderedDict[Path, torch.Tensor] = OrderedDict()

    def decode(self, path: Path) -> torch.Tensor:
        from PIL import Image

        from metareg.image_files import open_image

        im = open_image(path, "L" if self.grayscale else "RGB")
        if im.size != (self.size, self.size):
            im = im.resize((self.size, self.size), Image.Resampling.LANCZOS)
        data = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8)
        data = data.view(self.size, self.size, -1).permute(2, 0, 1).contiguous()
        return 255 - data if self.invert else data

    def __call__(self, paths: list[Path]) -> torch.Tensor:
        """The images of ``paths`` as one float tensor [n, C, S, S] in [0, 1]."""
        out = []
        for p in paths:
            image = self._cache.get(p)
            if image is None:
                image = self.decode(p)
                if self.capacity:
                    self._cache[p] = image
                    if len(self._cache) > self.capacity:
                        self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(p)
            out.append(image)
        return torch.stack(out).float().div_(255)


class FilePool:
    """``ClassPool`` over image files: the same seeded episode draw, decoding only the images an episode uses."""

    def __init__(self, by_class: dict[str, list[Path]], load: ImageCache):
        self.classes = list(by_class)
        self.by_class = by_class
        self.load = load

    def __len__(self) -> int:
        return len(self.classes)

    def smallest_class(self) -> int:
        return min(len(v) for v in self.by_class.values())

    def episodes(self, n_tasks: int, n_way: int, k_shot: int, n_query: int, generator: torch.Generator,
                 domain: str = "source") -> TaskBatch:
        per_class = k_shot + n_query
        sx, qx = [], []
        for _ in range(n_tasks):
            chosen = torch.randperm(len(self.classes), generator=generator)[:n_way].tolist()
            support, query = [], []
            for ci in chosen:
                files = self.by_class[self.classes[ci]]
                pick = torch.randperm(len(files), generator=generator)[:per_class].tolist()
                support += [files[i] for i in pick[:k_shot]]
                query += [files[i] for i in pick[k_shot:]]
            sx.append(self.load(support))
            qx.append(self.load(query))
        sy = torch.arange(n_way).repeat_interleave(k_shot).expand(n_tasks, -1)
        qy = torch.arange(n_way).repeat_interleave(n_query).expand(n_tasks, -1)
        return TaskBatch(torch.stack(sx), sy.contiguous(), torch.stack(qx), qy.contiguous(), domain=domain)


# ----------------------------------------------------------------------------------------------------- benchmark
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
    # as digits: small budgets so a CPU run ends in minutes (4 episodes per update, 250 updates); image decoding is
    # lazy, so the first pass over the data is slower. Raise both on a GPU.
    train_defaults = {"meta_batch_size": 4, "meta_iterations": 250, "val_every": 50, "outer_lr": 0.001}

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
        split_seed: int = 0
        cache_images: int = 20000

    ranges = {"n_way": metareg.Range.at_least(2), "k_shot": metareg.Range.at_least(1),
              "n_query": metareg.Range.at_least(1), "image_size": metareg.Range.at_least(8).allowing(0),
              **dict.fromkeys(("val_fraction", "test_fraction", "pool_fraction"),
                              metareg.Range.above(0) & metareg.Range.below(1)),
              "split_seed": metareg.Range.seed(), "cache_images": metareg.Range.at_least(0),
              "pool": metareg.Choice("auto", *POOL_REGIMES)}

    def __init__(self, config):
        super().__init__(config)
        c = config
        if c.layout not in LAYOUTS:
            raise metareg.ConfigError(f"benchmark.folder.layout: {c.layout!r} is not one of {', '.join(LAYOUTS)}")
        self._check(c)
        if not c.path:
            raise metareg.ConfigError(
                f"benchmark.folder.path is not set: give the folder of your {c.layout} dataset, e.g. "
                f"benchmark.folder.path=~/data/{c.layout}; the {c.layout!r} layout expects\n"
                + EXAMPLES[c.layout].format(path="~/data/" + c.layout)
            )
        self.path = path = Path(c.path).expanduser()
        if not path.is_dir():
            raise _layout_error(path, c.layout, "does not exist" if not path.exists() else "is not a folder")
        image_size = c.image_size or (28 if c.layout == "omniglot" else 84)
        channels = 1 if c.layout == "omniglot" else 3
        self.load = ImageCache(image_size, grayscale=channels == 1, invert=c.layout == "omniglot",
                               capacity=c.cache_images)
        self.source: list[str] = []
        self.target: list[str] = []
        self.pool_regime: str | None = None  # what the pool holds: "shared", "disjoint", or None without a target
        parts = getattr(self, f"_split_{c.layout}")(path)  # split -> {class: files}, with "pool"
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
        self.pools = {split: FilePool(parts[split], self.load) for split in ("train", "val", "test")}
        for split, pool in self.pools.items():
            if len(pool) < c.n_way:
                raise metareg.ConfigError(
                    f"benchmark.folder: the {split} split of {str(path)!r} has {len(pool)} usable classes, fewer "
                    f"than n_way={c.n_way}; lower n_way (or n_query), or change the split fractions or domains"
                )
            first = next(iter(parts[split].values()))[0]
            try:
                self.load.decode(first)
            except Exception as exc:
                raise metareg.ConfigError(f"benchmark.folder: cannot read image {str(first)!r}: {exc}") from None
        self.spec = TaskSpec("classification", (channels, image_size, image_size), c.n_way, c.k_shot, c.n_query,
                             n_way=c.n_way)

    @staticmethod
    def _check(c) -> None:
        if c.val_fraction + c.test_fraction >= 1:  # each fraction's own range is declared in ``ranges``
            raise metareg.ConfigError(
                f"benchmark.folder: val_fraction + test_fraction must be below 1 (they leave the rest of each "
                f"domain's classes to meta-training), got {c.val_fraction} + {c.test_fraction}")

    # --------------------------------------------------------------------------------------------------- splits
    def _domains(self, available: list[str], what: str, default: tuple[list[str], list[str]] | None):
        """(source, target) domain names from the config, checked against ``available``; target [] = no shift.
        Sets ``source``, ``target`` and ``pool_regime``."""
        c = self.config
        source, target = _names(c.source), _names(c.target)
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
            raise _layout_error(self.path, c.layout, f"found {len(keys)} classes, too few to split into "
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
                raise _layout_error(path, "omniglot", f"the {what} alphabets have {len(group)} characters; at least "
                                                      f"2 are needed to split them")
        train, val = split_items(sorted(src), [1 - c.val_fraction, c.val_fraction], c.split_seed)
        pool, test = split_items(sorted(tgt), [c.pool_fraction, 1 - c.pool_fraction], c.split_seed + 1)
        return {"train": {k: src[k] for k in train}, "val": {k: src[k] for k in val},
                "test": {k: tgt[k] for k in test}, "pool": {k: tgt[k] for k in pool}}

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
            raise _layout_error(path, "office", f"domains {', '.join(source)} and {', '.join(target)} share "
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
        return {"train": {k: src[k] for k in train}, "val": {k: src[k] for k in val},
                "test": {k: tgt[k] for k in test}, "pool": {k: tgt[k] for k in pool}}

    def _split_miniimagenet(self, path: Path):
        c = self.config
        if _names(c.source) or (_names(c.target) and c.target.strip().lower() != "none"):
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
        if split not in self.pools:
            raise ValueError(f"unknown split {split!r}; use train, val or test")
        c = self.config
        domain = "target" if split == "test" and self.target else "source"
        return self.pools[split].episodes(n_tasks, c.n_way, c.k_shot, c.n_query, generator, domain=domain)

    def target_pool(self, n, generator):
        """``n`` unlabelled target-domain images (drawn with replacement) from the pool; never a test image."""
        if not self.pool_files:
            return None
        pick = torch.randint(len(self.pool_files), (n,), generator=generator).tolist()
        return self.load([self.pool_files[i] for i in pick])


@metareg.hookimpl
def metareg_register_benchmarks(register):
    register(Folder)
