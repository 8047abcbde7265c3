"""``metareg predict``: a stored run adapts to your labelled images and labels new ones (``metareg.run.predict``)."""
from __future__ import annotations

import argparse
import sys

NAME = "predict"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="label your images with a stored run: adapt to a support folder, predict a query folder",
        description="Rebuild a stored classification run with its meta-trained weights, adapt it to the support "
                    "folder (one subfolder of images per class; the folder names are the class names) exactly as "
                    "at meta-test, and write one row per image of the query folder: file, predicted class, the "
                    "probability of each class. Images are prepared as the run's benchmark prepares its inputs.",
    )
    p.add_argument("--run", required=True, metavar="RUN_ID", help="the run's id (`metareg runs` lists them)")
    p.add_argument("--support", required=True, metavar="DIR", help="one subfolder of images per class")
    p.add_argument("--query", required=True, metavar="DIR", help="the images to label")
    p.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--json", action="store_true", help="JSON lines instead of CSV")
    p.add_argument("--store", metavar="PATH", help="results store folder (default ./metareg-results, or "
                                                    "$METAREG_STORE)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    return p


def run(args: argparse.Namespace) -> int:
    from metareg.commands.common import load_registry, run_id
    from metareg.commands.outputs import out_file, written
    from metareg.errors import ConfigError
    from metareg.run.predict import load_run, write_predictions

    wanted = run_id(args.run)
    if wanted is None:
        raise ConfigError(f"--run {args.run!r} is not a run id: give the number in the first column of `metareg runs`")
    target = out_file(args.out, example="predictions." + ("jsonl" if args.json else "csv")) if args.out else None
    loaded = load_run(wanted, store=args.store, device=args.device, registry=load_registry())
    data = loaded.load_folders(args.support, args.query)
    note = data.unlabelled_note(args.query)
    if note:
        print(f"metareg: warning: {note}", file=sys.stderr)
    probabilities = loaded.predict(data.support_x, data.support_y, data.query_x)
    rows = list(zip(data.query_files, probabilities))
    if target is not None:
        with written(target, newline="") as out:
            write_predictions(rows, data.classes, out, args.json)
        print(f"metareg predict: {len(rows)} images labelled by run {loaded.run_id} -> {args.out}", file=sys.stderr)
    else:
        write_predictions(rows, data.classes, sys.stdout, args.json)
    return 0
