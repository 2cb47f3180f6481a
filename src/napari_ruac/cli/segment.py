"""``napari-ruac segment IMAGE --box …``: one object in an image or volume → mask, uncertainty, overlay."""

from __future__ import annotations

import argparse
import sys

from .common import (
    CommandError, add_cache_argument, add_intensity_arguments, add_model_arguments, add_read_arguments,
    intensity_from_args, load_model_from_args, method_options, parse_points, print_message, read_options,
)
from .everything import add_everything_arguments, run_segment_all

HELP = "segment one object in an image or volume; write mask + uncertainty"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="image or volume: .tif/.ome.tif, .nii/.nii.gz, .png/.jpg, .npy")
    parser.add_argument("--box", type=float, nargs=4, metavar=("X0", "Y0", "X1", "Y1"), help="box in pixels (x = column)")
    parser.add_argument("--points", nargs="+", metavar="X,Y", help="clicks in pixels, e.g. --points 120,85 140,90")
    parser.add_argument("--labels", type=int, nargs="+", help="1 (object) or 0 (background) per point; default all 1")
    parser.add_argument("--slice", type=int, help="for volumes: the z slice the prompt is on (default: middle)")
    parser.add_argument("--no-propagate", action="store_true", help="volumes: segment the prompted slice only")
    parser.add_argument("--out", help="output folder (default: next to the input)")
    add_read_arguments(parser)
    add_cache_argument(parser)
    add_intensity_arguments(parser, "fixed intensity window, e.g. CT -160 240")
    add_everything_arguments(parser)
    add_model_arguments(parser)


def _prompts(args, data):
    """The prompt of the command line, on ``--slice`` (default: the middle one) for a volume."""
    prompt = {}
    if args.box is not None:
        prompt["box"] = args.box
    points = parse_points(args.points)
    if points is not None:
        prompt["points"] = points
        prompt["labels"] = args.labels if args.labels is not None else [1] * len(points)
    if not data.is_volume:
        if args.slice is not None:
            raise CommandError(f"{args.image} is a 2D image; --slice applies to volumes only.")
        return prompt
    z = args.slice if args.slice is not None else data.spatial_shape[0] // 2
    if args.slice is None:
        print(f"no --slice given: prompting the middle slice z={z}", file=sys.stderr)
    return {z: prompt}


def run(args) -> int:
    from .common import progress_bar

    from ..io import check_output_folder, read_image
    from ..core.progress import Progress
    from ..segmentation import iter_segmentation

    if args.all:
        return run_segment_all(args)
    if args.box is None and not args.points:
        raise CommandError("give a prompt: --box X0 Y0 X1 Y1 and/or --points X,Y [X,Y ...] (with --labels), "
                           "or --all to segment every object.")
    if args.out is not None:
        check_output_folder(args.out)  # before reading, loading and computing
    intensity, options = intensity_from_args(args), method_options(args)
    data = read_image(args.image, **read_options(args))
    prompts = _prompts(args, data)
    model = load_model_from_args(args)
    bar = None
    outputs = None
    for event in iter_segmentation(
        data, model, prompts, out_dir=args.out, method=args.method, intensity=intensity,
        propagate=not args.no_propagate, cache_dir=args.cache, log=print_message, **options,
    ):  # fmt: skip
        if isinstance(event, Progress):
            if event.stage == "slice":
                if bar is None:
                    bar = progress_bar(total=event.total, desc="slices", unit="slice")
                bar.update(event.done - bar.n)
        else:
            outputs = event
    if bar is not None:
        bar.close()
    stats = outputs.stats
    print(f"mask:        {outputs.mask}  ({stats['voxels']} px)")
    print(f"uncertainty: {outputs.uncertainty}  (mean {stats['mean_uncertainty']:.3f}, in mask {stats['mean_uncertainty_in_mask']:.3f})")
    print(f"overlay:     {outputs.overlay}")
    print(f"summary:     {outputs.summary}")
    for z, reason in outputs.tracking_stops:
        hint = " (prompt it with --slice to go on)" if reason.startswith("tracking stopped") else ""
        print(f"slice {z}: {reason}{hint}")
    for line in outputs.warnings:
        print(f"warning: {line}", file=sys.stderr)
    return 0
