"""``napari-ruac batch INPUT_DIR --out OUT_DIR``: the command-line shell over ``iter_batch`` (tqdm bars).

The exit status is the number of volumes that failed (at most 100); 0 when all succeeded.
"""

from __future__ import annotations

import argparse
import sys

from .common import (
    CommandError, add_cache_argument, add_intensity_arguments, add_model_arguments, add_read_arguments,
    intensity_from_args, method_options, parse_points, read_options,
)
from .everything import add_everything_arguments, run_batch_all

HELP = "segment every image/volume in a folder; resumable; report.csv"

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


def add_arguments(parser: argparse.ArgumentParser) -> None:
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
    add_intensity_arguments(parser, "fixed intensity window (CT)")
    add_read_arguments(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_cache_argument(parser)
    add_model_arguments(parser)
    add_everything_arguments(parser)


def _prompt_source(args):
    from ..batch.prompts import LabelPrompts, PromptFile, TemplatePrompt

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
    return TemplatePrompt(box=args.box, points=parse_points(args.points), labels=args.labels, slice=args.slice)


def _model_spec(args):
    from ..batch.model_spec import ModelSpec

    return ModelSpec(
        name=args.model,
        device=args.device,
        pretrained=not args.random_weights,
        image_size=args.image_size,
        config=args.config,
        ruac_checkpoint=args.ruac_checkpoint,
        seed=args.seed,
    )


def run(args) -> int:
    from tqdm import tqdm

    from .common import progress_bar

    if args.all:
        return run_batch_all(args)
    from ..batch.events import BatchStarted, BatchSummary, VolumeDone, VolumeStarted
    from ..core.progress import Progress
    from ..batch.runner import iter_batch

    events = iter_batch(
        args.input_dir, args.out, _prompt_source(args), model=_model_spec(args), method=args.method,
        intensity=intensity_from_args(args), scheduler=args.scheduler, workers=args.workers,
        threads_per_worker=args.threads_per_worker, overwrite=args.overwrite, cache_dir=args.cache,
        read_options=read_options(args), **method_options(args),
    )  # fmt: skip
    overall = volume_bar = None
    summary = None
    quiet = args.no_progress
    for event in events:
        if isinstance(event, BatchStarted):
            if event.skipped:
                done = f"{len(event.skipped)} of {len(event.inputs)} inputs"
                print(f"{done} already done; skipping them", file=sys.stderr)
            overall = progress_bar(total=len(event.pending), desc="volumes", unit="vol", position=0, disable=quiet)
        elif isinstance(event, VolumeStarted):
            volume_bar = progress_bar(total=None, desc=event.volume, unit="step", position=1, leave=False, disable=quiet)
        elif isinstance(event, Progress) and volume_bar is not None:
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

