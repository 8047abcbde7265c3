"""Many-class characters rendered offline from installed fonts, with alphabets as domains (Omniglot-style, no download).

Every character (Unicode code point) is a class; every (font file, seeded affine jitter) is an instance of it. The
fonts are those matplotlib ships (DejaVu, STIX, the Computer Modern ``cm*`` fonts), optionally with more files or
folders (``extra_font_paths``) and the system's fonts as fontconfig lists them (``use_fontconfig``).

Which fonts "cover" a character is decided strictly, because a font that claims a code point and draws something
else would put wrong images into a class:

- the code point must be in the font's cmap (``matplotlib.ft2font.FT2Font.get_charmap``);
- when the font has glyph names, the glyph's name must mean that character (Adobe Glyph List, via ``fontTools.agl``,
  which matplotlib depends on). matplotlib's BaKoMa TeX fonts map ASCII code points to TeX-encoded glyphs: in
  ``cmex10`` 'A' is a big parenthesis and in ``cmsy10`` 'a' is a turnstile, and only this check rejects them;
- placeholder fonts are skipped: by name (Apple's *LastResort*, which maps every code point to a box per Unicode
  block, is shipped by matplotlib) and by rendering, when most characters of an alphabet draw the very same image
  (see ``is_placeholder``); glyphs that draw no ink are skipped.

Rendering: each glyph is drawn with Pillow at a fixed em size (the same for every font, so a font's 'o' stays smaller
than its 'O' and homoglyphs such as Latin 'A' and Cyrillic 'А' come out identical), centred by its bounding box,
shrunk only if it would not fit, on a canvas ``SUPERSAMPLE`` times the output size; jittered copies (rotation,
scale, shift, seeded per font) are resampled there (bilinear) and area-averaged down to ``image_size``. Instance 0 of
every font is the unjittered glyph. Ink is 1, background 0. The rendered arrays are cached as an ``.npz`` file under
``$METAREG_CACHE/glyphs`` (default ``$XDG_CACHE_HOME/metareg/glyphs`` or ``~/.cache/metareg/glyphs``), named by the
sha256 of the recipe (font file names and sizes, alphabets, image size, jitter, seeds, Pillow/FreeType and code
version), so a second construction only loads a file.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import metareg
from metareg.tasks import ClassPool, TaskSpec, split_items

#: bump when rendering changes, so old cache files are not reused
RENDER_VERSION = 1
SUPERSAMPLE = 2  # glyphs are drawn and jittered at twice the output size, then area-averaged down
EM_FRACTION = 0.7  # the font size (em) as a fraction of the canvas side
FIT_FRACTION = 0.85  # a glyph whose bounding box exceeds this fraction of the canvas is shrunk to fit
FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
PLACEHOLDER_NAMES = ("lastresort", "last resort")


def _r(*ranges: tuple[int, int], skip: tuple[int, ...] = ()) -> tuple[int, ...]:
    return tuple(c for a, b in ranges for c in range(a, b + 1) if c not in skip)


#: alphabet (domain) name -> its code points (letters only: no accented or compatibility forms)
ALPHABETS: dict[str, tuple[int, ...]] = {
    "latin": _r((0x41, 0x5A), (0x61, 0x7A)),
    "greek": _r((0x391, 0x3A9), (0x3B1, 0x3C9), skip=(0x3A2,)),
    "cyrillic": _r((0x410, 0x44F)),
    "armenian": _r((0x531, 0x556), (0x561, 0x586)),
    "georgian": _r((0x10D0, 0x10F0)),
    "hebrew": _r((0x5D0, 0x5EA)),
    "arrows": _r((0x2190, 0x21FF)),
    "math": _r((0x2200, 0x22FF)),
}


# ---------------------------------------------------------------------------------------------------------- fonts
def matplotlib_font_dir() -> Path:
    """matplotlib's bundled TTF folder, found without importing matplotlib (0.5 s) so a cached build stays fast."""
    import importlib.util

    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise metareg.ConfigError("benchmark glyphs renders matplotlib's fonts: pip install 'matplotlib>=3.6' pillow")
    return Path(list(spec.submodule_search_locations)[0]) / "mpl-data" / "fonts" / "ttf"


def _fontconfig_files() -> list[Path]:
    if shutil.which("fc-list") is None:
        return []
    try:
        out = subprocess.run(["fc-list", "--format", "%{file}\n"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    return [Path(line) for line in out.stdout.splitlines() if line.strip()]


def _expand(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in FONT_SUFFIXES and p.is_file())
    return [path]


def excluded_by_name(path: Path) -> bool:
    """Fonts known to draw a placeholder box for every code point (Apple's LastResort)."""
    name = path.name.lower().replace("-", "").replace("_", "")
    return any(p.replace(" ", "") in name for p in PLACEHOLDER_NAMES)


def font_files(config) -> list[Path]:
    """matplotlib's fonts, then ``extra_font_paths``, then fontconfig's (if asked); placeholders by name removed."""
    paths = _expand(matplotlib_font_dir())
    for extra in config.extra_font_paths:
        p = Path(extra).expanduser()
        if not p.exists():
            raise metareg.ConfigError(f"benchmark.glyphs.extra_font_paths: {str(p)!r} does not exist")
        paths += _expand(p)
    if config.use_fontconfig:
        paths += _fontconfig_files()
    seen, out = set(), []
    for p in paths:
        key = (p.name, p.stat().st_size) if p.is_file() else None
        if key is None or key in seen or p.suffix.lower() not in FONT_SUFFIXES or excluded_by_name(p):
            continue
        seen.add(key)
        out.append(p)
    return out


def _glyph_name_means(name: str, code: int) -> bool | None:
    """Whether a glyph name denotes ``code`` per the Adobe Glyph List; None when the name says nothing."""
    from fontTools import agl

    base = name.split(".")[0]
    meant = set(agl.LEGACY_AGL2UV.get(base, ())) | {ord(ch) for ch in agl.toUnicode(name)}
    if not meant:
        return None
    want = unicodedata.normalize("NFKC", chr(code))  # e.g. 'Omega' is U+2126 OHM SIGN in the AGL, NFKC U+03A9
    return code in meant or any(unicodedata.normalize("NFKC", chr(m)) == want for m in meant if m < 0x110000)


def covered(path: Path, codes: list[int]) -> tuple[list[int], tuple[str, str]]:
    """The code points of ``codes`` that the font really draws (in its cmap and, if it names glyphs, so named),
    and the font's (family, style), by which copies of one font in two folders are recognised."""
    from matplotlib.ft2font import FT2Font

    try:
        font = FT2Font(str(path))
    except Exception:  # not a font FreeType can read: skip it
        return [], ("", path.name)
    cmap = font.get_charmap()
    try:
        from matplotlib.ft2font import FaceFlags

        named = FaceFlags.GLYPH_NAMES in font.face_flags
    except ImportError:  # matplotlib < 3.10: plain integer flags
        named = bool(int(font.face_flags) & (1 << 9))
    out = []
    for c in codes:
        g = cmap.get(c, 0)
        if not g:
            continue
        if named and not _glyph_name_means(font.get_glyph_name(g), c):
            continue  # a cmap that lies (TeX encodings) or a name that does not confirm the character
        out.append(c)
    return out, (font.family_name, font.style_name)


def is_placeholder(images: np.ndarray, max_unique_fraction: float = 0.5) -> bool:
    """True when renders of distinct characters ([n, H, W]) are mostly the same image: a placeholder font.

    Needs at least 4 characters to judge. A real font draws distinct characters differently (homoglyphs occur across
    alphabets, not within one), a LastResort-like font draws one box per Unicode block.
    """
    if len(images) < 4:
        return False
    unique = {np.ascontiguousarray(im).tobytes() for im in images}
    return len(unique) <= max_unique_fraction * len(images)


# ------------------------------------------------------------------------------------------------------ rendering
def _draw(font_path: Path, codes: list[int], canvas: int) -> tuple[np.ndarray, list[int]]:
    """Unjittered glyphs [n, canvas, canvas] uint8, centred by bounding box; drops glyphs without ink."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(font_path), size=max(4, round(EM_FRACTION * canvas)),
                              layout_engine=ImageFont.Layout.BASIC)
    fit = FIT_FRACTION * canvas
    images, kept = [], []
    for c in codes:
        ch = chr(c)
        x0, y0, x1, y1 = font.getbbox(ch)
        w, h = x1 - x0, y1 - y0
        if w <= 0 or h <= 0:
            continue
        glyph = Image.new("L", (w, h))
        ImageDraw.Draw(glyph).text((-x0, -y0), ch, font=font, fill=255)
        if glyph.getbbox() is None:
            continue  # no ink
        if w > fit or h > fit:
            s = fit / max(w, h)
            glyph = glyph.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS)
        out = Image.new("L", (canvas, canvas))
        out.paste(glyph, ((canvas - glyph.width) // 2, (canvas - glyph.height) // 2))
        images.append(np.asarray(out))
        kept.append(c)
    if not images:
        return np.zeros((0, canvas, canvas), np.uint8), []
    return np.stack(images), kept


def _jitter(base: torch.Tensor, angle: torch.Tensor, scale: torch.Tensor, tx: torch.Tensor,
            ty: torch.Tensor) -> torch.Tensor:
    """Affine copies of ``base`` [n, 1, H, W]: rotation ``angle`` (radians), ``scale``, shift in normalised units."""
    n, _, h, w = base.shape
    view = lambda t: t.view(n, 1, 1)  # noqa: E731
    cos, sin = view(torch.cos(angle) / scale), view(torch.sin(angle) / scale)
    # output -> input coordinates (what grid_sample wants): p_in = R(-angle) (p_out - t) / scale, built by
    # broadcasting, which is several times faster than F.affine_grid on CPU
    xs = ((torch.arange(w) + 0.5) * (2 / w) - 1).view(1, 1, w) - view(tx)
    ys = ((torch.arange(h) + 0.5) * (2 / h) - 1).view(1, h, 1) - view(ty)
    grid = torch.stack([cos * xs + sin * ys, cos * ys - sin * xs], -1)
    return F.grid_sample(base, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _jitter_params(n: int, copies: int, generator: torch.Generator, rotation: float, scale: float,
                   shift: float) -> torch.Tensor:
    """[copies, 4, n]: angle (radians), scale, x and y shift (normalised coordinates span 2) per jittered copy."""
    u = 2 * torch.rand(copies, 4, n, generator=generator) - 1
    return torch.stack([torch.deg2rad(rotation * u[:, 0]), 1 + scale * u[:, 1], 2 * shift * u[:, 2],
                        2 * shift * u[:, 3]], 1)


def render_glyphs(fonts: list[Path], alphabets: dict[str, tuple[int, ...]], image_size: int, min_fonts: int,
                  instances_per_font: int, jitter: tuple[float, float, float], seed: int) -> dict[str, np.ndarray]:
    """Render every covered (character, font, instance) of ``alphabets``; characters need ``min_fonts`` fonts.

    Returns arrays ``images`` [N, S, S] uint8, ``code``, ``font``, ``instance`` [N] (sorted by code, font,
    instance), ``fonts`` (file names, indexed by ``font``) and ``placeholders`` ("font:alphabet" found by rendering).
    """
    from metareg.tasks import seed_hash

    canvas = image_size * SUPERSAMPLE
    codes = sorted({c for cs in alphabets.values() for c in cs})
    base: dict[int, dict[int, np.ndarray]] = {}  # font index -> code -> unjittered canvas glyph
    placeholders = []
    seen: set[tuple[str, str]] = set()
    for fi, path in enumerate(fonts):
        have, identity = covered(path, codes)
        if not have or identity in seen:  # the same font twice (matplotlib's and the system's DejaVu) counts once
            continue
        seen.add(identity)
        images, kept = _draw(path, have, canvas)
        glyphs = dict(zip(kept, images))
        for name, cs in alphabets.items():
            mine = [c for c in cs if c in glyphs]
            if mine and is_placeholder(np.stack([_area(glyphs[c], SUPERSAMPLE) for c in mine])):
                placeholders.append(f"{path.name}:{name}")
                for c in mine:
                    del glyphs[c]
        if glyphs:
            base[fi] = glyphs
    count = {c: sum(c in g for g in base.values()) for c in codes}
    classes = [c for c in codes if count[c] >= min_fonts]
    rows = [(c, fi) for fi, glyphs in base.items() for c in classes if c in glyphs]
    m, k = len(rows), instances_per_font
    images = np.zeros((k, m, image_size, image_size), np.uint8)
    if m:
        params = torch.zeros(max(0, k - 1), 4, m)
        start = 0
        for fi, glyphs in base.items():  # rows are grouped by font; one seeded stream per font
            n = sum(1 for c in classes if c in glyphs)
            if n:
                gen = torch.Generator().manual_seed(seed_hash(seed, fonts[fi].name))
                params[:, :, start:start + n] = _jitter_params(n, k - 1, gen, *jitter)
                start += n
        chunk = 2048
        for lo in range(0, m, chunk):
            hi = min(m, lo + chunk)
            x = torch.from_numpy(np.stack([base[fi][c] for c, fi in rows[lo:hi]])).unsqueeze(1).float().div_(255)
            for i in range(k):
                y = x if i == 0 else _jitter(x, *params[i - 1, :, lo:hi])
                y = F.avg_pool2d(y, SUPERSAMPLE).squeeze(1)
                images[i, lo:hi] = y.mul_(255).round_().to(torch.uint8).numpy()
    code = np.tile(np.array([c for c, _ in rows], np.int32), k)
    font = np.tile(np.array([fi for _, fi in rows], np.int32), k)
    inst = np.repeat(np.arange(k, dtype=np.int32), m)
    order = np.lexsort((inst, font, code))
    return {
        "images": images.reshape(k * m, image_size, image_size)[order],
        "code": code[order],
        "font": font[order],
        "instance": inst[order],
        "fonts": np.array([p.name for p in fonts]),
        "placeholders": np.array(placeholders, dtype=str),
    }


def _area(image: np.ndarray, factor: int) -> np.ndarray:
    h, w = image.shape
    return image.reshape(h // factor, factor, w // factor, factor).mean((1, 3)).round().astype(np.uint8)


# ---------------------------------------------------------------------------------------------------------- cache
def cache_dir() -> Path:
    root = os.environ.get("METAREG_CACHE")
    if root:
        return Path(root).expanduser() / "glyphs"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "metareg" / "glyphs"


def recipe(fonts: list[Path], alphabets: dict[str, tuple[int, ...]], config) -> dict:
    """Everything the rendered arrays depend on; its sha256 names the cache file."""
    import PIL
    from PIL import features

    return {
        "version": RENDER_VERSION,
        "pillow": PIL.__version__,
        "freetype": features.version("freetype2"),
        "fonts": [[p.name, p.stat().st_size] for p in fonts],
        "alphabets": {k: list(v) for k, v in sorted(alphabets.items())},
        "image_size": config.image_size,
        "supersample": SUPERSAMPLE,
        "em": EM_FRACTION,
        "fit": FIT_FRACTION,
        "min_fonts": config.min_fonts,
        "instances_per_font": config.instances_per_font,
        "jitter": [config.jitter_rotation, config.jitter_scale, config.jitter_shift],
        "render_seed": config.render_seed,
    }


def load_or_render(fonts: list[Path], alphabets: dict[str, tuple[int, ...]], config) -> tuple[dict, Path, bool]:
    """The rendered arrays, from the cache when the recipe's file exists; returns (arrays, cache file, was_cached)."""
    key = hashlib.sha256(json.dumps(recipe(fonts, alphabets, config), sort_keys=True).encode()).hexdigest()
    path = cache_dir() / f"{key}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}, path, True
        except Exception:  # a truncated or foreign file: render again and overwrite it
            pass
    data = render_glyphs(fonts, alphabets, config.image_size, config.min_fonts, config.instances_per_font,
                         (config.jitter_rotation, config.jitter_scale, config.jitter_shift), config.render_seed)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, **data)
        os.replace(tmp, path)
    except OSError:  # a read-only cache is no reason to fail; the next construction renders again
        pass
    return data, path, False


def duplicates(data: dict, order: list[int], tolerance: float = 0.05) -> dict[int, int]:
    """Characters that look like an earlier one of ``order`` (code -> the code it duplicates).

    Two characters are duplicates when, in at least half of the fonts that draw both, their unjittered renders differ
    by less than ``tolerance``: sum |a - b| / (sum a + sum b), 0 for the same image and 1 for disjoint ink. Latin 'A',
    Greek 'Α' and Cyrillic 'А' are one shape in most fonts, so a target class that duplicates a source class would
    not be a class "never seen in training".
    """
    base = data["instance"] == 0
    codes, fonts = data["code"][base], data["font"][base]
    images = torch.from_numpy(data["images"][base].reshape(int(base.sum()), -1)).float() / 255
    position = {c: i for i, c in enumerate(order)}
    n = len(order)
    same, shared = np.zeros((n, n)), np.zeros((n, n))
    for f in np.unique(fonts):
        rows = np.flatnonzero((fonts == f) & np.isin(codes, order))
        if len(rows) < 2:
            continue
        idx = np.array([position[int(c)] for c in codes[rows]])
        x = images[rows]
        ink = x.sum(1)
        d = (torch.cdist(x, x, p=1) / (ink[:, None] + ink[None, :]).clamp_min(1e-6)).numpy()
        shared[np.ix_(idx, idx)] += 1
        same[np.ix_(idx, idx)] += d < tolerance
    dup = (same >= 0.5 * shared) & (shared > 0)
    out: dict[int, int] = {}
    for i in range(n):
        earlier = np.flatnonzero(dup[i, :i])
        earlier = [j for j in earlier if order[j] not in out]
        if earlier:
            out[order[i]] = order[earlier[0]]
    return out


# ------------------------------------------------------------------------------------------------------ benchmark
def _alphabet_list(value: str, key: str) -> list[str]:
    names = [v.strip().lower() for v in value.replace("+", ",").split(",") if v.strip()]
    if names in ([], ["none"]):
        return []
    unknown = [n for n in names if n not in ALPHABETS]
    if unknown:
        raise metareg.ConfigError(
            f"benchmark.glyphs.{key}: unknown alphabet {unknown[0]!r}; available: {', '.join(ALPHABETS)} "
            f"(several separated by commas, e.g. {key}=latin,cyrillic)"
        )
    return list(dict.fromkeys(names))


class Glyphs(metareg.Benchmark):
    """Characters rendered from installed fonts; alphabets are domains, characters classes, fonts the "drawers".

    Splits (all seeded by ``split_seed``, so every run is evaluated on the same classes):

    - ``train``: episodes of the source alphabets' meta-training classes;
    - ``val``: held-out classes of the source alphabets (``val_fraction`` of them), the Omniglot way;
    - ``test``: classes of the target alphabets, never seen in training;
    - ``target_pool``: unlabelled images of the *other* target classes (``pool_fraction`` of them). Pool and test
      classes are disjoint, so test episodes use classes and images no part of training (adversary included) saw.

    Without a target (``target=none`` or the same as the source) the source classes are split three ways
    (train / ``val_fraction`` / 20% test) and ``target_pool`` is None. Characters that look like an earlier one
    (homoglyphs such as Latin 'A' and Greek 'Α', see ``duplicates``) are dropped from the later alphabet when
    ``drop_duplicates`` is set.

    ``indices`` maps "train", "val", "test" and "pool" to {code point: rows of ``images``}, so the splits can be
    checked disjoint; ``fonts_by_class`` lists the fonts each class was rendered from.

    Classes with matplotlib 3.11's fonts (fonts per class; after dropping homoglyphs of earlier alphabets, in the
    order latin, greek, cyrillic, armenian, georgian, hebrew, arrows, math): latin 52 (22-23 fonts), greek 34 of 49
    (16), cyrillic 45 of 64 (16), armenian 69 of 76 (12), georgian 33 (12), hebrew 27 (4, so only with
    ``min_fonts`` <= 4), arrows 111 of 112 (14), math operators 192 with ``min_fonts=8``, 253 with 4. The default
    latin -> greek is 42 train, 10 val, 24 test and 10 pool classes, 7,816 images, built in ~3 s on 2 CPU cores and
    loaded from the cache in under 1 s.

    Config:
        source: source alphabets, comma-separated (latin, greek, cyrillic, armenian, georgian, hebrew, arrows, math).
        target: target alphabets (the domain shift), or "none".
        n_way, k_shot, n_query: episode shape (queries per class).
        image_size: side of the square grayscale images (28, as Omniglot for Conv4).
        min_fonts: a character is a class only if at least this many fonts draw it.
        instances_per_font: images per (character, font): the plain glyph and jittered copies.
        jitter_rotation, jitter_scale, jitter_shift: affine jitter (degrees, relative scale, fraction of the side).
        val_fraction: share of the source classes held out for validation.
        pool_fraction: share of the target classes whose images form the unlabelled target pool.
        drop_duplicates: drop characters that look the same as an earlier one (homoglyphs).
        render_seed: the jitter; split_seed: the class splits.
        extra_font_paths: more font files or folders (searched recursively for .ttf/.otf/.ttc).
        use_fontconfig: also use every font `fc-list` lists (results then depend on the machine's fonts).

    Example:
        metareg bench --learner protonet --benchmark glyphs benchmark.glyphs.source=latin benchmark.glyphs.target=greek
    """

    name = "glyphs"
    task_kind = "classification"
    default_backbone = "conv4"
    # as digits: Conv4 on 28x28 costs ~2 ms per image forward and backward on a 2-core CPU, so the default budget is
    # small (4 episodes per update, 250 updates); on a GPU raise both (Omniglot papers: 32 episodes, 60k updates).
    train_defaults = {"meta_batch_size": 4, "meta_iterations": 250, "val_every": 50, "outer_lr": 0.001}

    @dataclass
    class Config:
        source: str = "latin"
        target: str = "greek"
        n_way: int = 5
        k_shot: int = 1
        n_query: int = 15
        image_size: int = 28
        min_fonts: int = 8
        instances_per_font: int = 4
        jitter_rotation: float = 10.0
        jitter_scale: float = 0.1
        jitter_shift: float = 0.05
        val_fraction: float = 0.2
        pool_fraction: float = 0.3
        drop_duplicates: bool = True
        render_seed: int = 0
        split_seed: int = 0
        extra_font_paths: list[str] = field(default_factory=list)
        use_fontconfig: bool = False

    ranges = {"n_way": metareg.Range.at_least(2), "k_shot": metareg.Range.at_least(1),
              "n_query": metareg.Range.at_least(1), "image_size": metareg.Range.at_least(8),
              "min_fonts": metareg.Range.at_least(1), "instances_per_font": metareg.Range.at_least(1),
              "jitter_rotation": metareg.Range.at_least(0),
              "jitter_scale": metareg.Range.at_least(0) & metareg.Range.below(1),
              "jitter_shift": metareg.Range.at_least(0) & metareg.Range.below(0.5),
              **dict.fromkeys(("val_fraction", "pool_fraction"), metareg.Range.above(0) & metareg.Range.below(1)),
              **dict.fromkeys(("render_seed", "split_seed"), metareg.Range.seed())}

    def __init__(self, config):
        super().__init__(config)
        c = config
        source = _alphabet_list(c.source, "source")
        target = _alphabet_list(c.target, "target")
        if not source:
            raise metareg.ConfigError("benchmark.glyphs.source: name at least one alphabet, e.g. source=latin")
        if target == source:
            target = []
        if set(source) & set(target):
            raise metareg.ConfigError(
                f"benchmark.glyphs: alphabet(s) {', '.join(sorted(set(source) & set(target)))} are both source and "
                f"target; the target domain must be other alphabets (or target=none for no domain shift)"
            )
        self.source, self.target = source, target
        alphabets = {a: ALPHABETS[a] for a in source + target}
        fonts = font_files(c)
        data, self.cache_file, self.from_cache = load_or_render(fonts, alphabets, c)
        self.images = torch.from_numpy(data["images"]).float().div_(255).unsqueeze(1)  # [N, 1, S, S]
        self.codes = data["code"]
        self.font_names = [str(f) for f in data["fonts"]]
        codes = self.codes
        rows: dict[int, range] = {}  # rows are sorted by code, so each class is a contiguous range
        bounds = [0, *(np.flatnonzero(np.diff(codes)) + 1).tolist(), len(codes)] if len(codes) else [0]
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            rows[int(codes[lo])] = range(lo, hi)
        self.fonts_by_class = {code: sorted({self.font_names[f] for f in data["font"][r.start:r.stop]})
                               for code, r in rows.items()}

        def classes_of(names):
            return [code for a in names for code in ALPHABETS[a] if code in rows]

        order = classes_of(source) + classes_of(target)
        self.duplicates = duplicates(data, order) if c.drop_duplicates and order else {}
        src = [x for x in classes_of(source) if x not in self.duplicates]
        tgt = [x for x in classes_of(target) if x not in self.duplicates]
        #: classes per alphabet after coverage and duplicate filtering
        self.class_counts = {a: sum(1 for x in classes_of([a]) if x not in self.duplicates) for a in source + target}
        parts: dict[str, list[int]]
        if target:
            self._need(src, 2, f"source alphabet(s) {c.source}")
            self._need(tgt, 2, f"target alphabet(s) {c.target}")
            train, val = split_items(src, [1 - c.val_fraction, c.val_fraction], c.split_seed)
            pool, test = split_items(tgt, [c.pool_fraction, 1 - c.pool_fraction], c.split_seed + 1)
            parts = {"train": train, "val": val, "test": test, "pool": pool}
        else:
            self._need(src, 3, f"alphabet(s) {c.source}")
            test_fraction = 0.2
            train, val, test = split_items(src, [1 - c.val_fraction - test_fraction, c.val_fraction, test_fraction],
                                           c.split_seed)
            parts = {"train": train, "val": val, "test": test, "pool": []}
        self.indices: dict[str, dict[int, list[int]]] = {
            split: {code: list(rows[code]) for code in sorted(cls)} for split, cls in parts.items()
        }
        self.pool_rows = torch.tensor(sum(self.indices["pool"].values(), []), dtype=torch.long)
        self.pools = {split: ClassPool({code: self.images[rows[code].start:rows[code].stop]  # views, no copies
                                        for code in self.indices[split]})
                      for split in ("train", "val", "test")}
        per_class = c.k_shot + c.n_query
        for split, pool in self.pools.items():
            if len(pool) < c.n_way:
                raise metareg.ConfigError(
                    f"benchmark.glyphs: the {split} split has {len(pool)} classes, fewer than n_way={c.n_way}; "
                    f"lower n_way or min_fonts, or use more alphabets ({self._counts()})"
                )
            if pool.smallest_class() < per_class:
                raise metareg.ConfigError(
                    f"benchmark.glyphs: a {split} class has {pool.smallest_class()} images, fewer than "
                    f"k_shot + n_query = {per_class}; raise instances_per_font or min_fonts, or lower n_query"
                )
        self.spec = TaskSpec("classification", (1, c.image_size, c.image_size), c.n_way, c.k_shot, c.n_query,
                             n_way=c.n_way)

    def _counts(self) -> str:
        return "classes per alphabet: " + ", ".join(f"{a} {n}" for a, n in self.class_counts.items())

    def _need(self, classes: list[int], n: int, what: str) -> None:
        if len(classes) < n:
            raise metareg.ConfigError(
                f"benchmark.glyphs: {what} give {len(classes)} classes drawn by >= {self.config.min_fonts} fonts; "
                f"lower min_fonts or add fonts (extra_font_paths, use_fontconfig) ({self._counts()})"
            )

    def sample(self, split, n_tasks, generator):
        if split not in self.pools:
            raise ValueError(f"unknown split {split!r}; use train, val or test")
        c = self.config
        domain = "target" if split == "test" and self.target else "source"
        return self.pools[split].episodes(n_tasks, c.n_way, c.k_shot, c.n_query, generator, domain=domain)

    def target_pool(self, n, generator):
        """``n`` unlabelled images (with replacement) of the pool classes of the target alphabets; never test ones."""
        if not self.target:
            return None
        pick = torch.randint(len(self.pool_rows), (n,), generator=generator)
        return self.images[self.pool_rows[pick]]


@metareg.hookimpl
def metareg_register_benchmarks(register):
    register(Glyphs)
