"""``napari-ruac batch INPUT_DIR --out OUT_DIR``: the command-line shell over ``iter_batch`` (tqdm bars).

The exit status is the number of volumes that failed (at most 100); 0 when all succeeded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EPILOG = """\
prompts (choose one source):
  --prompts FILE.json|FILE.csv   per file: object, slice, box and/or points
      JSON: {"a.tif": [{"object": 1, "slice": 12, "box": [x0, y0, x1, y1]},
                       {"object": 2, "slice": 12, "points": [[x, y]], "labels": [1]}]}
      CSV:  file,object,slice,x0,y0,x1,y1,points,labels   (points "x,y;x,y", labels "1;0")
  --from-labels [DIR]   a label file per input (DIR/<stem>.*, or labels/<stem>.* or <stem>_labels.*
                        beside it): one box per object on the object's largest slice
      --refine          with --from-labels: refine each object's existing mask instead (its mask
                        becomes SAM2's mask prompt, with its box, on every slice it covers)
  --box X0 Y0 X1 Y1 [--slice Z] [--points X,Y ...]   the same prompt for every file (object 1)
  --all [--grid N] [--seed-slices Z ...]   no prompts: segment every object of every file; writes
                        OUT/<stem>_labels.*, OUT/<stem>_uncertainty.*, OUT/<stem>_objects.csv (scores,
                        physical volume) and OUT/everything_report.csv; a rerun skips finished files
coordinates: pixels, x = column, y = row; slice = z index from 0 (default: the middle slice).
outputs: OUT/<stem>_mask.<ext>, OUT/<stem>_uncertainty.<ext> (input's format and geometry),
OUT/report.csv. A rerun skips finished volumes; --overwrite starts over.
"""


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    from ..cli import add_model_arguments

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("input_dir", help="folder of images/volumes (.nii/.nii.gz, .tif/.ome.tif, .png/.jpg, .npy)")
    parser.add_argument("--out", required=True, help="output folder (masks, uncertainty maps, report.csv)")
    source = parser.add_argument_group("prompts")
    source.add_argument("--prompts", metavar="FILE", help="JSON or CSV prompt file (schema below)")
    source.add_argument(
        "--from-labels", nargs="?", const="", metavar="DIR", help="prompts from a label file per input (see below)"
    )
    source.add_argument(
        "--refine", action="store_true", help="with --from-labels: refine the label file's masks (see below)"
    )
    source.add_argument("--box", type=float, nargs=4, metavar=("X0", "Y0", "X1", "Y1"), help="template box")
    source.add_argument("--points", nargs="+", metavar="X,Y", help="template clicks, e.g. --points 120,85 140,90")
    source.add_argument("--labels", type=int, nargs="+", help="1 (object) or 0 (background) per template point")
    source.add_argument("--slice", type=int, help="template prompt slice (default: the middle slice)")
    scale = parser.add_argument_group("scale-out (Dask)")
    scale.add_argument(
        "--scheduler", help="'local' (a Dask LocalCluster) or a scheduler address (tcp://host:8786); default: no Dask"
    )
    scale.add_argument("--workers", type=int, help="LocalCluster workers (default: one per GPU, else ≤ 4 CPU workers)")
    scale.add_argument("--threads-per-worker", type=int, help="LocalCluster threads per worker (default 1)")
    parser.add_argument("--overwrite", action="store_true", help="recompute everything, ignoring finished volumes")
    parser.add_argument("--intensity", default="auto", choices=["auto", "percentile", "minmax", "none"])
    parser.add_argument("--window", type=float, nargs=2, metavar=("LOW", "HIGH"), help="fixed intensity window (CT)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_model_arguments(parser)
    from ..cli import add_everything_arguments

    add_everything_arguments(parser)


def _prompt_source(args):
    from ..cli import CommandError, _parse_points
    from .prompts import LabelPrompts, PromptFile, TemplatePrompt

    if args.labels is not None and not args.points:
        raise CommandError("--labels go with --points (one label per point).")
    template = args.box is not None or bool(args.points)
    given = {"--prompts": bool(args.prompts), "--from-labels": args.from_labels is not None, "--box/--points": template}
    chosen = [name for name, present in given.items() if present]
    if len(chosen) != 1:
        problem = "choose one prompt source" if chosen else "give prompts"
        raise CommandError(f"{problem}: --prompts FILE, --from-labels [DIR] or --box X0 Y0 X1 Y1 (see --help).")
    if args.prompts:
        return PromptFile.load(args.prompts)
    if args.refine and args.from_labels is None:
        raise CommandError("--refine refines existing masks: give them with --from-labels [DIR].")
    if args.from_labels is not None:
        return LabelPrompts(args.from_labels or None, refine=args.refine)
    return TemplatePrompt(box=args.box, points=_parse_points(args.points), labels=args.labels, slice=args.slice)


def _model_spec(args):
    from .model_spec import ModelSpec

    return ModelSpec(
        name=args.model,
        device=args.device,
        pretrained=not args.random_weights,
        image_size=args.image_size,
        config=args.config,
        ruac_checkpoint=args.ruac_checkpoint,
        seed=args.seed,
    )


def batch_command(args) -> int:
    from tqdm import tqdm

    if args.all:
        return _batch_all(args)
    from ..cli import _intensity
    from .events import BatchStarted, BatchSummary, SliceProgress, VolumeDone, VolumeStarted
    from .runner import iter_batch

    options = {"seed": args.seed}
    if args.num_samples:
        options["num_samples"] = args.num_samples
    events = iter_batch(
        args.input_dir, args.out, _prompt_source(args), model=_model_spec(args), method=args.method,
        intensity=_intensity(args), scheduler=args.scheduler, workers=args.workers,
        threads_per_worker=args.threads_per_worker, overwrite=args.overwrite, **options,
    )  # fmt: skip
    overall = volume_bar = None
    summary = None
    quiet = args.no_progress
    for event in events:
        if isinstance(event, BatchStarted):
            if event.skipped:
                done = f"{len(event.skipped)} of {len(event.inputs)} inputs"
                print(f"{done} already done; skipping them", file=sys.stderr)
            overall = tqdm(total=len(event.pending), desc="volumes", unit="vol", position=0, disable=quiet)
        elif isinstance(event, VolumeStarted):
            volume_bar = tqdm(total=None, desc=event.volume, unit="step", position=1, leave=False, disable=quiet)
        elif isinstance(event, SliceProgress) and volume_bar is not None:
            volume_bar.total = event.total
            volume_bar.update(event.done - volume_bar.n)
        elif isinstance(event, VolumeDone):
            if volume_bar is not None:
                volume_bar.close()
                volume_bar = None
            if not event.outcome.ok:
                tqdm.write(f"failed: {event.outcome.volume}: {event.outcome.error}", file=sys.stderr)
            overall.update(1)
        elif isinstance(event, BatchSummary):
            summary = event
    if overall is not None:
        overall.close()
    print(summary)
    return min(summary.failed, 100)


def _batch_all(args) -> int:
    """``batch DIR --all``: every object of every file; exit status = number of failed files."""
    import csv

    from tqdm import tqdm

    from ..cli import CommandError, _intensity, _load, everything_settings
    from ..everything.folder import FileDone, iter_everything_folder

    if args.box is not None or args.points or args.prompts or args.from_labels is not None:
        raise CommandError("--all segments every object without prompts: drop --box/--points/--prompts/--from-labels.")
    if args.scheduler:
        raise CommandError("--all runs in this process; drop --scheduler.")
    model = _load(args)
    rows, failed = [], 0
    bar = None
    for event in iter_everything_folder(args.input_dir, args.out, model, overwrite=args.overwrite, method=args.method,
                                        seed_slices=args.seed_slices, intensity=_intensity(args),
                                        settings=everything_settings(args), seed=args.seed):
        if isinstance(event, FileDone):
            if bar is not None:
                bar.close()
                bar = None
            if event.error:
                failed += 1
                tqdm.write(f"failed: {event.path.name}: {event.error}", file=sys.stderr)
            elif event.skipped:
                tqdm.write(f"{event.path.name}: already done; skipping (--overwrite to redo)", file=sys.stderr)
            rows.append(dict(file=event.path.name, objects="" if event.outputs is None else event.outputs.stats["objects"],
                             status="failed" if event.error else "skipped" if event.skipped else "done",
                             objects_csv="" if event.outputs is None else event.outputs.objects.name,
                             error=event.error or ""))
        else:
            path, progress = event
            if bar is None:
                bar = tqdm(total=progress.total, desc=path.name, unit="step", disable=args.no_progress)
            bar.total = progress.total
            bar.update(progress.done - bar.n)
    report = Path(args.out) / "everything_report.csv"
    with open(report, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "status", "objects", "objects_csv", "error"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"report: {report} ({len(rows) - failed} of {len(rows)} files ok)")
    return min(failed, 100)
