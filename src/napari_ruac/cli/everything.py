"""``--all`` of ``segment`` and ``batch``: segment every object without prompts (see :mod:`napari_ruac.everything`)."""

from __future__ import annotations

import sys
from pathlib import Path

from .common import CommandError, intensity_from_args, load_model_from_args, read_options


def everything_settings(args) -> dict:
    """segment-everything settings from ``--grid``/``--tile-size``/``--tile-overlap`` (shared with batch)."""
    settings = {} if args.grid is None else {"grid": True, "points_per_side": args.grid}
    if args.tile_size is not None:
        settings["tile_size"] = args.tile_size
    if args.tile_overlap is not None:
        settings["tile_overlap"] = args.tile_overlap
    return settings


def add_everything_arguments(parser) -> None:
    group = parser.add_argument_group("--all: segment every object")
    group.add_argument("--all", action="store_true", help="segment every object (no prompt): labels, uncertainty, "
                       "<stem>_objects.csv ranked by review score (most likely wrong first)")
    group.add_argument("--grid", type=int, help="--all: also click an N×N grid per tile where the image proposals "
                       "found no object (density; default: no grid)")
    group.add_argument("--tile-size", type=int, help="--all: tile side in px (0: no tiles; default: the model's input "
                       "size when the image is larger)")
    group.add_argument("--tile-overlap", type=int, help="--all: px shared by neighbouring tiles (default: a quarter tile)")
    group.add_argument("--seed-slices", type=int, nargs="+", metavar="Z", help="--all on volumes: find objects on these "
                       "slices and track them through z (default: every slice is segmented and the objects are linked "
                       "through z; --slice Z tracks from that one slice)")


def run_segment_all(args) -> int:
    """``segment IMAGE --all``: every object of one image or volume."""
    from ..core.progress import Progress
    from ..everything.files import iter_everything_file
    from ..io import read_image
    from .common import progress_bar

    if args.box is not None or args.points:
        raise CommandError("--all segments every object without prompts: drop --box/--points.")
    data = read_image(args.image, **read_options(args))
    seeds = args.seed_slices or ([args.slice] if args.slice is not None else None)
    if data.is_volume and seeds is None:
        print(f"segmenting each of the {data.spatial_shape[0]} slices and linking the objects through z "
              "(--seed-slices Z… tracks from chosen slices instead)", file=sys.stderr)
    if not data.is_volume and seeds is not None:
        raise CommandError(f"{args.image} is a 2D image; --slice/--seed-slices apply to volumes only.")
    model = load_model_from_args(args)
    bar = None  # drawn at the first progress event: an input refused before that prints its error alone
    outputs = None
    for event in iter_everything_file(data, model, args.out, method=args.method, seed_slices=seeds,
                                      intensity=intensity_from_args(args), settings=everything_settings(args), seed=args.seed):
        if isinstance(event, Progress):
            bar = bar or progress_bar(total=None, desc="segment all", unit="step")
            stage = f"{event.stage} ({event.objects} objects)"
            if stage != bar.desc:  # a new stage; else the bar redraws at its own pace (progress_bar)
                bar.set_description(stage, refresh=False)
            bar.total = event.total
            bar.update(event.done - bar.n)
        else:
            outputs = event
    if bar is not None:
        bar.close()
    stats = outputs.stats
    print(f"objects:     {outputs.objects}  ({stats['objects']} objects" + (", none found" if not stats["objects"] else "")
          + f"; volumes in {stats['physical_unit']})")
    print(f"labels:      {outputs.labels}")
    print(f"uncertainty: {outputs.uncertainty}")
    print(f"summary:     {outputs.summary}")
    if outputs.result.objects:
        worst = outputs.result.ranked()[0]
        print(f"review first: object {worst.id} (review score {worst.review_score:.3f}, "
              f"uncertainty score {worst.uncertainty_score:.3f})")
    return 0


def run_batch_all(args) -> int:
    """``batch DIR --all``: every object of every file; exit status = number of failed files."""
    import csv

    from tqdm import tqdm

    from ..everything.folder import FileDone, iter_everything_folder
    from .common import progress_bar

    if args.box is not None or args.points or args.prompts or args.from_labels is not None:
        raise CommandError("--all segments every object without prompts: drop --box/--points/--prompts/--from-labels.")
    if args.scheduler:
        raise CommandError("--all runs in this process; drop --scheduler.")
    model = load_model_from_args(args)
    rows, failed = [], 0
    bar = None
    for event in iter_everything_folder(args.input_dir, args.out, model, overwrite=args.overwrite, method=args.method,
                                        read_options=read_options(args),
                                        seed_slices=args.seed_slices, intensity=intensity_from_args(args),
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
            if bar is None:
                bar = progress_bar(total=event.total, desc=event.item, unit="step", disable=args.no_progress)
            bar.total = event.total
            bar.update(event.done - bar.n)
    report = Path(args.out) / "everything_report.csv"
    with open(report, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "status", "objects", "objects_csv", "error"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"report: {report} ({len(rows) - failed} of {len(rows)} files ok)")
    return min(failed, 100)
