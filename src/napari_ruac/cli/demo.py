"""``napari-ruac demo``: segment the bundled samples from files and print the report (see :mod:`napari_ruac.demo`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_model_arguments, load_model_from_args, method_options

HELP = "segment the bundled sample data and write a small report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..demo import DEMO_OBJECTS

    parser.add_argument("--out", default="demo_output", help="output folder")
    parser.add_argument("--objects", type=int, default=DEMO_OBJECTS, help="objects per sample")
    add_model_arguments(parser)


def run(args) -> int:
    from ..demo import run_demo

    model = load_model_from_args(args)
    report = run_demo(model, Path(args.out), method=args.method, objects=args.objects, **method_options(args))
    print(report.read_text())
    print(f"report: {report}")
    return 0
