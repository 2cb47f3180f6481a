"""``napari-ruac download [MODEL | --all]``: SAM2.1 checkpoints into the cache, sha256-verified."""

from __future__ import annotations

import argparse

from .common import CommandError, tqdm_bytes

HELP = "download a SAM2.1 checkpoint into the cache (sha256-verified)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help="e.g. sam2.1_hiera_tiny")
    parser.add_argument("--all", action="store_true", help="all registry models")
    parser.add_argument("--force", action="store_true", help="download again even if present")


def run(args) -> int:
    from ..models import MODELS, download_model

    names = list(MODELS) if args.all else [args.model]
    if not args.all and not args.model:
        raise CommandError("name a model (e.g. `napari-ruac download sam2.1_hiera_tiny`) or use --all.")
    for name in names:
        path = download_model(name, progress=tqdm_bytes(name), force=args.force)
        print(f"{name}: {path}")
    return 0
