"""The three on-disk layouts folder reads (Omniglot, Office-31/Office-Home, mini-ImageNet): what each looks like,
and the scan of a path into {domain or split: {class: image files}}, with an error that shows the expected tree."""
from __future__ import annotations

import csv
from pathlib import Path

import metareg

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


def layout_error(path: Path, layout: str, problem: str) -> metareg.ConfigError:
    return metareg.ConfigError(
        f"benchmark.folder.path={str(path)!r}: {problem}; the {layout!r} layout expects\n"
        + EXAMPLES[layout].format(path=path)
    )


def subdirs(p: Path) -> list[Path]:
    return sorted(d for d in p.iterdir() if d.is_dir() and not d.name.startswith("."))


def image_files(p: Path) -> list[Path]:
    return sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()
                  and not f.name.startswith("."))


def class_folders(p: Path) -> dict[str, list[Path]]:
    """{folder name: its images} for the subfolders of ``p`` that hold any: one class per folder, each listed once."""
    found = {c.name: image_files(c) for c in subdirs(p)}
    return {name: files for name, files in found.items() if files}


def name_list(value: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    return [] if [n.lower() for n in names] == ["none"] else list(dict.fromkeys(names))


# ------------------------------------------------------------------------------------------------------- layouts
def scan_omniglot(path: Path) -> tuple[dict[str, dict[str, list[Path]]], list[str]]:
    """{alphabet: {character: images}} and the background alphabets (those under images_background/, if any)."""
    roots = [path / name for name in ("images_background", "images_evaluation") if (path / name).is_dir()]
    background: list[str] = []
    alphabets: dict[str, dict[str, list[Path]]] = {}
    for root in roots or [path]:
        if image_files(root):
            raise layout_error(path, "omniglot", f"found images directly in {str(root)!r}, not in "
                                                  f"<alphabet>/<character>/ folders")
        for alphabet in subdirs(root):
            if image_files(alphabet):
                raise layout_error(path, "omniglot", f"found images directly in the alphabet folder "
                                                      f"{str(alphabet)!r}; they belong in one folder per character")
            chars = class_folders(alphabet)
            if chars:
                if alphabet.name in alphabets:
                    raise layout_error(path, "omniglot", f"alphabet {alphabet.name!r} appears twice")
                alphabets[alphabet.name] = chars
                if root.name == "images_background":
                    background.append(alphabet.name)
    if not alphabets:
        raise layout_error(path, "omniglot", "found no <alphabet>/<character>/<image> files")
    return alphabets, background


def scan_office(path: Path) -> dict[str, dict[str, list[Path]]]:
    """{domain: {class: images}}; Office-31's extra images/ level (amazon/images/back_pack/) is accepted."""
    domains: dict[str, dict[str, list[Path]]] = {}
    if image_files(path):
        raise layout_error(path, "office", f"found images directly in {str(path)!r}, not in <domain>/<class>/")
    for domain in subdirs(path):
        root = domain / "images" if (domain / "images").is_dir() and not image_files(domain / "images") else domain
        if image_files(root):
            raise layout_error(path, "office", f"found images directly in the domain folder {str(root)!r}; they "
                                                f"belong in one folder per class")
        classes = class_folders(root)
        if classes:
            domains[domain.name] = classes
    if not domains:
        raise layout_error(path, "office", "found no <domain>/<class>/<image> files")
    return domains


def scan_miniimagenet(path: Path) -> dict[str, dict[str, list[Path]]]:
    """{split: {class: images}} from the split CSVs (preferred) or from train/, val/ and test/ folders."""
    csvs = {s: path / f"{s}.csv" for s in ("train", "val", "test")}
    splits: dict[str, dict[str, list[Path]]] = {}
    if any(p.is_file() for p in csvs.values()):
        missing = [p.name for p in csvs.values() if not p.is_file()]
        if missing:
            raise layout_error(path, "miniimagenet", f"missing {', '.join(missing)}")
        images = path / "images"
        if not images.is_dir():
            raise layout_error(path, "miniimagenet", "the split CSVs are there but the images/ folder is not")
        for split, csv_path in csvs.items():
            by_class: dict[str, list[Path]] = {}
            with open(csv_path, newline="") as f:
                reader = csv.DictReader(f)
                if reader.fieldnames is None or not {"filename", "label"} <= set(reader.fieldnames):
                    raise layout_error(path, "miniimagenet", f"{csv_path.name} needs a header with columns "
                                                              f"filename,label (got {reader.fieldnames})")
                for row in reader:
                    file = images / row["filename"]
                    if not file.is_file():
                        raise layout_error(path, "miniimagenet", f"{csv_path.name} names {row['filename']!r}, "
                                                                  f"which is not in images/")
                    by_class.setdefault(row["label"], []).append(file)
            splits[split] = by_class
    elif all((path / s).is_dir() for s in ("train", "val", "test")):
        for split in ("train", "val", "test"):
            if image_files(path / split):
                raise layout_error(path, "miniimagenet", f"found images directly in {split}/, not in "
                                                          f"{split}/<class>/")
            splits[split] = class_folders(path / split)
    else:
        raise layout_error(path, "miniimagenet", "found neither train.csv/val.csv/test.csv nor train/, val/ and "
                                                  "test/ folders")
    for split, by_class in splits.items():
        if not by_class:
            raise layout_error(path, "miniimagenet", f"the {split} split has no images")
    for a in splits:
        for b in splits:
            if a < b and set(splits[a]) & set(splits[b]):
                shared = sorted(set(splits[a]) & set(splits[b]))
                raise layout_error(path, "miniimagenet", f"the {a} and {b} splits share classes ({shared[0]}, ...); "
                                                          f"meta-train/val/test classes must be disjoint")
    return splits


# ------------------------------------------------------------------------------------------------------- loading
