"""The ``glyph-world`` benchmark: episodes and target pools over the cached world (the class doc describes it)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch

import metareg
from metareg import POOL_REGIMES, TEST_DOMAINS, TRAIN_DOMAINS, VAL_DOMAINS, EpisodeSplits, TaskBatch
from metareg_plugins.glyph_world import fonts, photos, scripts, splits, world
from metareg_plugins.glyph_world.world import World

DOMAINS = ("script", "style", "platform")
#: the camera strength ``domains=platform`` photographs at by default (docs/results.md, "The platform domain",
#: gives the runs that chose it)
CAMERA_DEFAULT = 0.5
KEY = "benchmark.glyph-world"
#: the revision of the style domains' pools that gave both regimes the same classes and samples count (before it,
#: the shared pool held every training class's handwriting, 170 classes at 16 px, the disjoint one 87): part of a
#: style run's ``data_identity``, so no run on the equal pools shares an id with one stored on the unequal ones
STYLE_POOLS = "style-pools=equal"


class GlyphWorld(metareg.Benchmark):
    """Omniglot-scale characters: ~1,800 classes of 18 scripts rendered from installed fonts; script or style shift.

    Every character (a letter, digit or sign of a script, or a symbol of a symbol set: ``scripts``) is a class;
    its renderings by every installed face that draws it, completed to ``renderings`` images by seeded jitter
    (rotation, scale, shift, stroke width: ``render``), are its "drawers", as Omniglot's 20 people are (Lake et al.
    2015). Faces are matplotlib's bundled fonts and, with ``pip install 'metareg[fonts]'``, 75 Google font families
    packaged as ``fontpkg-*`` distributions (``fonts``; nothing is downloaded at run time). Characters no face
    draws, specks (full stops, quotes) and homoglyphs of a character earlier in the world's order (Greek 'Α' after
    Latin 'A') are not classes, so no split ever holds a character that looks like one of another split's.

    The world is built once (drawing every face's glyphs and their pairwise distances for the homoglyph test
    dominate), then loads from its cache (``$METAREG_CACHE/glyph-world``, keyed by the recipe's sha256); progress is
    a bar on a terminal. Without the ``fonts`` extra (a single warning says so) it is matplotlib's fonts alone, none
    of them handwriting, so fewer scripts have classes and ``domains=style`` is a ConfigError. docs/results.md ("The
    glyph worlds") gives its faces, classes per script and split sizes, with the command that counts them again.

    Domains (``domains``):

    - ``script`` (default): Omniglot's background and evaluation alphabets. Train and val classes are characters of
      ``source_scripts`` (``val_fraction`` held out for validation), test and pool classes characters of
      ``target_scripts`` (``pool_fraction`` in the pool); every face draws every split.
    - ``style``: print to handwriting, over the characters of both script settings. Train and val classes are
      rendered by print faces; test classes are other characters (``test_fraction`` of those drawn by >= min_fonts
      handwriting faces) rendered by handwriting faces.
    - ``platform``: catalogue to phone photo, the cross-platform product-recognition shift. Every split holds print
      characters (``splits.platform_split``); the source domain is their clean print renderings, the target domain
      the very same renderings photographed by a seeded camera model (``camera``: perspective warp, defocus and
      motion blur, an illumination gradient, a cluttered textured background, sensor noise, JPEG compression) at
      strength ``camera``. Train and val are print, test and pool photos; the photographs are made once and cached
      beside the world (``photos``).

    The unlabelled target pool (``pool``), the two regimes of domain-adversarial training (Ganin et al. 2016):

    - ``disjoint`` (default): target-domain renderings of the pool classes, which are neither train nor test classes;
    - ``shared`` (``domains=style`` or ``platform``): target-domain renderings of the training classes, the regime
      domain-adversarial theory covers (on the style domains, the handwriting of training classes that have any).
      On the style and platform domains both regimes hold ``pool_classes`` classes (the fewer of the two regimes'
      candidates, a seeded choice) of at most ``renderings`` samples each (a seeded choice), so they differ only in
      which characters the pool shows. Script domains have no samples of a source character in a
      target script, so ``shared`` there is a ConfigError. The pool classes are held out of training in both regimes,
      so both train and test on the very same classes, and ``pool`` is a pool-only setting, so the engine
      evaluates both on the very same episodes.

    Headroom rows (``domains=style`` or ``platform``; script domains have no source rendering of a target-script
    character and no target rendering of a source one, so anything but the defaults is a ConfigError there):

    - ``test_domain=source``: the test classes' print renderings instead of their target-domain ones (style: a
      seeded subset of as many as the class has handwritten ones; platform: the very renderings the photos show, in
      their order), so the engine draws the very same episodes (classes, sample positions) as for ``target``: the
      test score without the shift.
    - ``train_domain=target``: the oracle. Meta-train on the labelled target-domain renderings of the training
      classes that have enough (at least ``k_shot + n_query``; ``target_train_classes`` counts them: some on the
      style domains, all on the platform one); ``both``: every training class's print renderings plus its
      target-domain ones. Validation stays print, the source domain.

    Test classes and their renderings never reach training or the pool. ``indices`` maps "train", "val", "test" and
    "pool" to {code point: rows of ``world.images``}; ``world.fonts_of(code)`` names a class's faces.

    Config:
        domains: ``script``, ``style`` or ``platform`` (above).  pool: ``disjoint`` or ``shared`` (above).
        source_scripts, target_scripts: comma-separated scripts (latin, greek, cyrillic, ipa, armenian, georgian,
            hebrew, arabic, devanagari, bengali, tamil, telugu, thai, khmer, arrows, math, shapes, currency), or
            ``all``/``none``.
        handwriting: the family names counted as handwriting (default: the 12 of the extra, ``fonts.HANDWRITING``).
        n_way, k_shot, n_query: episode shape (queries per class).
        image_size: side of the square grayscale images, ink 1 on 0 (28, as Omniglot for Conv4).
        min_fonts: a character is a class only if at least this many faces (of the kind a split needs) draw it.
        renderings: images per class and kind of face (print, handwriting), at least.
        jitter_rotation, jitter_scale, jitter_shift, jitter_stroke: degrees, relative scale, fraction of the side,
            and the stroke blend toward a 3x3 dilation or erosion (0..1).
        val_fraction: source classes held out for validation.  test_fraction: (style) handwritten characters that
            are test classes.  pool_fraction: target classes (script) or handwritten characters (style) in the pool.
        test_domain: ``target`` or ``source``; train_domain: ``source``, ``target`` or ``both`` (above).
        val_domain: ``source`` (default) or ``target`` (style and platform): validation episodes of the validation
            characters' target-domain samples, labelled (``metareg tune --select target-val``, an oracle rule); the
            characters with too few of them for an episode are left out.
        camera: (platform only) the camera model's strength in (0, 1]: every degradation's size scales with it
            (default 0.5, where the oracle beats the source-only baseline by ~10x the seeds' spread: docs/results.md).
        fontpkg: use the installed fontpkg-* fonts (false: matplotlib's alone, the world without the extra).
        render_seed: the jitter; split_seed: the class splits.

    References:
        Lake, Salakhutdinov & Tenenbaum (2015). Human-level concept learning through probabilistic program
        induction. Science 350(6266). (Omniglot: 1,623 characters of 50 alphabets, 20 drawers each.)
        Ganin et al. (2016). Domain-adversarial training of neural networks. JMLR 17(59).

    Example:
        metareg bench --learner protonet --adversary dann --benchmark glyph-world \\
            benchmark.glyph-world.domains=style benchmark.glyph-world.pool=shared
    """

    name = "glyph-world"
    pool_only_settings = {"pool": "disjoint"}
    #: ``camera`` came with the platform domain; at its default it is left out of every run's identity, so the
    #: script and style runs stored before it keep their ids
    added_settings = {"camera": CAMERA_DEFAULT}
    task_kind = "classification"
    default_backbone = "conv4"
    train_defaults = dict(metareg.IMAGE_TRAIN_DEFAULTS)
    # the contract checks build a small world: two scripts at 16 px, few renderings
    check_config = {"source_scripts": "greek", "target_scripts": "armenian", "image_size": 16, "renderings": 6,
                    "n_query": 3}

    @dataclass
    class Config:
        domains: str = "script"
        pool: str = "disjoint"
        source_scripts: str = "latin,greek,cyrillic,ipa,arabic,devanagari,thai,arrows,math"
        target_scripts: str = "armenian,georgian,hebrew,tamil,telugu"
        handwriting: list[str] = field(default_factory=lambda: list(fonts.HANDWRITING))
        n_way: int = 5
        k_shot: int = 1
        n_query: int = 15
        image_size: int = 28
        min_fonts: int = 2
        renderings: int = 20
        jitter_rotation: float = 10.0
        jitter_scale: float = 0.1
        jitter_shift: float = 0.05
        jitter_stroke: float = 0.5
        val_fraction: float = 0.2
        test_fraction: float = 0.4
        pool_fraction: float = 0.3
        test_domain: str = "target"
        train_domain: str = "source"
        val_domain: str = "source"
        camera: float = CAMERA_DEFAULT
        fontpkg: bool = True
        render_seed: int = 0
        split_seed: int = 0

    ranges = {"domains": metareg.Choice(*DOMAINS), "pool": metareg.Choice(*POOL_REGIMES),
              "test_domain": metareg.Choice(*TEST_DOMAINS), "train_domain": metareg.Choice(*TRAIN_DOMAINS),
              "val_domain": metareg.Choice(*VAL_DOMAINS),
              "n_way": metareg.Range.at_least(2), "k_shot": metareg.Range.at_least(1),
              "n_query": metareg.Range.at_least(1), "image_size": metareg.Range.at_least(8),
              "min_fonts": metareg.Range.at_least(1), "renderings": metareg.Range.at_least(1),
              "jitter_rotation": metareg.Range.at_least(0),
              "jitter_scale": metareg.Range.at_least(0) & metareg.Range.below(1),
              "jitter_shift": metareg.Range.at_least(0) & metareg.Range.below(0.5),
              "jitter_stroke": metareg.Range.between(0, 1),
              "camera": metareg.Range.above(0) & metareg.Range.at_most(1),
              **dict.fromkeys(("val_fraction", "test_fraction", "pool_fraction"),
                              metareg.Range.above(0) & metareg.Range.below(1)),
              **dict.fromkeys(("render_seed", "split_seed"), metareg.Range.seed())}

    @classmethod
    def data_identity(cls, config) -> str:
        """The installed font distributions (``fonts.installed_fonts_identity``): the world differs with them. On
        the style domains also ``STYLE_POOLS``: their pools were made equal after runs with unequal ones were
        stored, and those runs must not share an id with runs on the equal pools."""
        installed = fonts.installed_fonts_identity(config.fontpkg)
        return f"{installed};{STYLE_POOLS}" if config.domains == "style" else installed

    @classmethod
    def check_settings(cls, config) -> None:
        """The rules that tie settings together (each setting's own values are declared in ``ranges``)."""
        c = config
        if c.test_fraction + c.pool_fraction >= 1:
            raise metareg.ConfigError(f"{KEY}.test_fraction: test_fraction + pool_fraction must be below 1 (the rest "
                                      f"of the handwritten characters train), got {c.test_fraction} + "
                                      f"{c.pool_fraction}")
        _check_domains(c, scripts.parse_scripts(c.source_scripts, "source_scripts"),
                       scripts.parse_scripts(c.target_scripts, "target_scripts"))

    def __init__(self, config):
        super().__init__(config)
        c = config
        self.check_settings(c)  # resolution ran it too; a benchmark built by hand is held to it here
        self.source = scripts.parse_scripts(c.source_scripts, "source_scripts")
        self.target = scripts.parse_scripts(c.target_scripts, "target_scripts")
        names = scripts.in_world_order(self.source + self.target)
        alphabets = {n: scripts.script_codes(n) for n in names}
        data, self.cache_file, self.from_cache = world.load_or_build(fonts.font_files(c.fontpkg), alphabets, c)
        self.world = World(data)
        #: every image a split can hold: the world's renderings, then (``platform``) their photographs
        self.images = self.world.images
        #: (``platform``) world row of a print rendering -> row of its photograph in ``images``
        self.photo_row: dict[int, int] = {}
        if c.domains == "platform":
            shots, shown = photos.load_or_photograph(self.world, self.cache_file, c.camera, c.render_seed)
            first = len(self.images)
            self.images = torch.cat([self.images, shots])
            self.photo_row = dict(zip(shown.tolist(), range(first, first + len(shots))))
        classes = self._split()
        self.indices = self._indices(classes)
        self.pool_rows = torch.tensor(sorted(r for rs in self.indices["pool"].values() for r in rs), dtype=torch.long)
        self.episodes = EpisodeSplits(
            {s: {code: self.images.index_select(0, torch.tensor(rows)) for code, rows in self.indices[s].items()}
             for s in ("train", "val", "test")}, (1, c.image_size, c.image_size), c.n_way, c.k_shot, c.n_query,
            key=KEY, fewer_classes=f"lower n_way or min_fonts, or add scripts ({self._counts()})",
            smaller_classes="raise renderings or lower n_query", samples_key="renderings")
        self.pools, self.spec = self.episodes.pools, self.episodes.spec
        if not self.indices["pool"]:
            raise metareg.ConfigError(f"{KEY}.pool_fraction: the unlabelled target pool is empty; raise it")

    # ------------------------------------------------------------------------------------------------ splits
    def _eligible(self, names: list[str], handwriting: bool | None) -> list[int]:
        """Classes of ``names`` drawn by at least ``min_fonts`` faces of the kind, in world order."""
        return [code for n in scripts.in_world_order(names) for code in scripts.script_codes(n)
                if self.world.face_count(code, handwriting) >= self.config.min_fonts]

    def _split(self) -> dict[str, list[int]]:
        c = self.config
        if c.domains == "script":
            source, target = self._eligible(self.source, None), self._eligible(self.target, None)
            #: classes per script that enough faces draw
            self.class_counts = {n: len(self._eligible([n], None)) for n in self.source + self.target}
            self._need(source, 2, "the source scripts", "source_scripts")
            self._need(target, 2, "the target scripts", "target_scripts")
            return metareg.split_domains(source, target, c.val_fraction, c.pool_fraction, c.split_seed)
        both = self.source + self.target
        printed = self._eligible(both, False)
        self.class_counts = {n: len(self._eligible([n], False)) for n in both}
        if c.domains == "platform":
            self._need(printed, 4, "print faces", "source_scripts")
            return splits.platform_split(printed, c.val_fraction, c.test_fraction, c.pool_fraction, c.split_seed)
        handwritten = self._eligible(both, True)
        self._need(handwritten, 3, "handwriting faces", "handwriting")
        self._need(printed, 2, "print faces", "source_scripts")
        return splits.style_split(printed, handwritten, c.val_fraction, c.test_fraction, c.pool_fraction,
                                  c.split_seed)

    def _source_rows(self, code: int) -> list[int]:
        """A class's source-domain rows: any face's (script domains) or its print renderings (style, platform)."""
        return self.world.rows_of(code, None if self.config.domains == "script" else False)

    def _target_rows(self, code: int) -> list[int]:
        """A class's target-domain rows: any face's (script), its handwritten renderings (style), or the
        photographs of its print renderings, in their order (platform)."""
        domains = self.config.domains
        if domains == "platform":
            return [self.photo_row[r] for r in self.world.rows_of(code, False)]
        return self.world.rows_of(code, None if domains == "script" else True)

    def _indices(self, classes: dict[str, list[int]]) -> dict[str, dict[int, list[int]]]:
        """Rows per class and split: source-domain samples for train and val (as ``train_domain`` and
        ``val_domain`` say), target-domain ones for test and pool (``_pool``)."""
        return {"train": self._train_rows(classes["train"]), "val": self._val_rows(classes["val"]),
                "test": {code: self._test_rows(code) for code in sorted(classes["test"])},
                "pool": self._pool(classes)}

    def _pool(self, classes: dict[str, list[int]]) -> dict[int, list[int]]:
        """The unlabelled pool's rows: target-domain samples of the pool classes (``disjoint``) or of the training
        classes (``shared``). On the style and platform domains both regimes hold the same number of classes,
        ``pool_classes`` (the fewer of the pool classes and the training classes with target-domain samples, a
        seeded choice of each), and every pool class at most ``renderings`` samples (a seeded choice; every style
        and platform class has at least that many at the shipped settings), so the regimes differ only in which
        characters the pool shows. (``STYLE_POOLS`` records in the run id that the style pools became equal.)"""
        c = self.config
        regime = "train" if c.pool == "shared" else "pool"
        if c.domains == "script":
            pool = {code: self._target_rows(code) for code in sorted(classes[regime])}
            return {code: rows for code, rows in pool.items() if rows}
        # each candidate class's target-domain rows, in split order, the classes without any left out
        target = {k: {code: rows for code in classes[k] if (rows := self._target_rows(code))}
                  for k in ("pool", "train")}
        chosen = list(target[regime])
        self.pool_classes = min(len(target["pool"]), len(target["train"]))
        pick = torch.randperm(len(chosen), generator=metareg.torch_generator(c.split_seed, "pool-classes", c.pool))
        out = {}
        for code in sorted(chosen[i] for i in pick[:self.pool_classes].tolist()):
            rows = target[regime][code]
            keep = torch.randperm(len(rows), generator=metareg.torch_generator(c.split_seed, "pool-rows", code))
            out[code] = [rows[i] for i in sorted(keep[:c.renderings].tolist())]
        return out

    def _train_rows(self, train: list[int]) -> dict[int, list[int]]:
        """The training classes' rows in ``train_domain``: source, target (the classes with enough target-domain
        samples), or both. Sets ``target_train_classes``, how many training classes have target-domain samples to
        train on (every one on the platform domain, some on the style domains)."""
        c = self.config
        target = {code: self._target_rows(code) for code in sorted(train)} if c.domains != "script" else {}
        target = {code: rows for code, rows in target.items() if len(rows) >= c.k_shot + c.n_query}
        self.target_train_classes = len(target)
        if c.train_domain == "target":
            return target
        out = {code: self._source_rows(code) for code in sorted(train)}
        if c.train_domain == "both":
            out = {code: rows + target.get(code, []) for code, rows in out.items()}
        return out

    def _val_rows(self, val: list[int]) -> dict[int, list[int]]:
        """The validation classes' rows in ``val_domain``: source, or target (the classes with enough target-domain
        samples for an episode, as ``train_domain=target`` takes them)."""
        c = self.config
        if c.val_domain == "source":
            return {code: self._source_rows(code) for code in sorted(val)}
        target = {code: self._target_rows(code) for code in sorted(val)}
        target = {code: rows for code, rows in target.items() if len(rows) >= c.k_shot + c.n_query}
        if len(target) < c.n_way:
            raise metareg.ConfigError(
                f"{KEY}.val_domain=target: only {len(target)} validation characters have {c.k_shot + c.n_query} "
                f"target-domain samples, fewer than n_way={c.n_way}; raise val_fraction or lower n_way, k_shot or "
                f"n_query, or use val_domain=source")
        return target

    def _test_rows(self, code: int) -> list[int]:
        """A test class's target-domain rows, or (``test_domain=source``) as many of its source-domain rows: on the
        platform domain the very renderings its photographs show, in the same order; on the style domains a seeded
        choice of its print rows. Either way an episode drawn from either holds the same classes at the same
        sample positions."""
        target = self._target_rows(code)
        if self.config.test_domain == "target":
            return target
        printed = self.world.rows_of(code, False)
        if self.config.domains == "platform":
            return printed
        if len(printed) < len(target):
            raise metareg.ConfigError(
                f"{KEY}.test_domain=source: test character U+{code:04X} has {len(printed)} print renderings, fewer "
                f"than its {len(target)} handwritten ones, so its source episodes cannot match the target's; use "
                f"test_domain=target, or raise renderings")
        pick = torch.randperm(len(printed), generator=metareg.torch_generator(self.config.split_seed, "source-test",
                                                                              code))[:len(target)]
        return [printed[i] for i in sorted(pick.tolist())]

    # ------------------------------------------------------------------------------------------------ checks
    def _counts(self) -> str:
        return "classes per script: " + ", ".join(f"{n} {k}" for n, k in self.class_counts.items())

    def _need(self, classes: list[int], n: int, what: str, key: str) -> None:
        if len(classes) < n:
            raise metareg.ConfigError(
                f"{KEY}.{key}: {what} give {len(classes)} classes drawn by >= min_fonts={self.config.min_fonts} "
                f"faces, fewer than {n}; choose other scripts, lower min_fonts, or install the fonts "
                f"({fonts.EXTRA}) ({self._counts()})"
            )

    # ---------------------------------------------------------------------------------------------- contract
    def load_inputs(self, paths):
        """Image files as the world's renderings: grayscale, resized to ``image_size``, in [0, 1], ink 1 on 0 (an
        image whose border is mostly bright, dark ink on paper, is inverted). The character should fill the image
        about as a rendering does (centred, a small margin); nothing crops it."""
        from PIL import Image

        from metareg import open_image

        size = self.config.image_size
        out = []
        for p in paths:
            im = open_image(p, "L").resize((size, size), Image.Resampling.LANCZOS)
            x = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).view(1, size, size).float() / 255.0
            border = torch.cat([x[0, 0], x[0, -1], x[0, :, 0], x[0, :, -1]])
            out.append(1.0 - x if border.mean() > 0.5 else x)
        return torch.stack(out)

    def sample(self, split: str, n_tasks: int, generator: torch.Generator) -> TaskBatch:
        batch = self.episodes.sample(split, n_tasks, generator)
        return dataclasses.replace(batch, support_x=_unit(batch.support_x), query_x=_unit(batch.query_x))

    def target_pool(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` unlabelled target-domain images (with replacement) of the pool rows; never a test class."""
        pick = torch.randint(len(self.pool_rows), (n,), generator=generator)
        return _unit(self.images[self.pool_rows[pick]])

    def target_episodes(self, n: int, size: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` episode-shaped draws of the pool, ``n_way`` pool classes each (``metareg.pool_episodes``)."""
        rows = metareg.pool_episodes(self.indices["pool"], n, size, self.config.n_way, generator)
        return _unit(self.images[rows])


def _unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (kept so in memory: a quarter of floats) as floats in [0, 1], ink 1."""
    return images.float().div_(255)


def _check_domains(c, source: list[str], target: list[str]) -> None:
    """The rules that tie the domain settings together, given the parsed script lists."""
    if c.domains == "script" and c.pool == "shared":
        raise metareg.ConfigError(
            f"{KEY}.pool=shared needs domains=style or platform: with script domains the training classes are "
            f"source-script characters, which have no samples in a target script; use domains=style or platform, "
            f"or pool=disjoint"
        )
    if c.domains == "script" and (c.test_domain, c.train_domain, c.val_domain) != ("target", "source", "source"):
        key = next(k for k, v in (("test_domain", "target"), ("train_domain", "source"), ("val_domain", "source"))
                   if getattr(c, k) != v)
        raise metareg.ConfigError(
            f"{KEY}.{key}={getattr(c, key)} needs domains=style or platform: with script domains a test character "
            f"has no rendering in a source script and a training or validation character none in a target script; "
            f"use "
            f"domains=style or platform, or leave {key} at its default"
        )
    if c.domains != "platform" and c.camera != CAMERA_DEFAULT:
        raise metareg.ConfigError(
            f"{KEY}.camera={c.camera} needs domains=platform: only the platform domain photographs its renderings; "
            f"use domains=platform, or leave camera at its default ({CAMERA_DEFAULT})"
        )
    if c.domains == "script" and (not source or not target):
        raise metareg.ConfigError(f"{KEY}.target_scripts: script domains need source and target scripts, e.g. "
                                  f"source_scripts=latin,greek target_scripts=armenian")
    if c.domains == "script" and set(source) & set(target):
        raise metareg.ConfigError(
            f"{KEY}.target_scripts: {', '.join(sorted(set(source) & set(target)))} also in source_scripts; "
            f"the target domain must be other scripts (or use domains=style)"
        )
    if not source + target:
        raise metareg.ConfigError(f"{KEY}.source_scripts: name at least one script, e.g. source_scripts=latin")
