"""``napari-ruac embed VOLUME --cache DIR``: encode every slice once into DIR/<name>.zarr, so later
``segment``/``batch`` runs (and the napari dock) with ``--cache DIR`` only decode."""

from __future__ import annotations

import argparse

from .common import (
    add_cache_argument, add_intensity_arguments, add_model_arguments, add_read_arguments, intensity_from_args,
    load_model_from_args, print_message, read_options, CommandError,
)

HELP = "precompute the image embeddings of a volume into an on-disk cache (reused by segment/batch --cache)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="image or volume: .tif/.ome.tif, .nii/.nii.gz, .png/.jpg, .npy")
    add_cache_argument(parser)
    add_read_arguments(parser)
    add_intensity_arguments(parser, "fixed intensity window (must match the later segment runs), e.g. CT -160 240")
    add_model_arguments(parser)


def run(args) -> int:
    from .common import progress_bar

    from ..core.progress import Progress
    from ..io import check_output_folder, read_image
    from ..segmentation import iter_embed

    if not args.cache:
        raise CommandError("give the cache folder: --cache DIR (segment and batch then reuse it with --cache DIR).")
    check_output_folder(args.cache, "cache")
    intensity = intensity_from_args(args)
    data = read_image(args.image, **read_options(args))
    model = load_model_from_args(args)
    bar = None
    path = None
    for event in iter_embed(data, model, args.cache, intensity=intensity, log=print_message):
        if isinstance(event, Progress):
            bar = bar or progress_bar(total=event.total, desc="embedding", unit="slice")
            bar.update(event.done - bar.n)
        else:
            path = event
    if bar is not None:
        bar.close()
    print(f"embeddings: {path}  (reuse with --cache {args.cache})")
    return 0
