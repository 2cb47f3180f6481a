"""Pieces every command shares: model arguments and loading, intensity, point parsing, CommandError."""

from __future__ import annotations

import argparse

from ..uq import DEFAULT_METHOD

INTENSITY_CHOICES = ("auto", "percentile", "minmax", "none")


class CommandError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


#: seconds between redraws of a progress bar whose stderr is not a terminal (a log file, a batch job): a bar
#: redrawn 10 times a second fills a log with thousands of carriage-return updates
LOG_REDRAW_S = 5.0


def progress_bar(**kwargs):
    """Every command's tqdm bar (on stderr); redrawn at most every ``LOG_REDRAW_S`` when stderr is not a terminal."""
    import sys

    from tqdm import tqdm

    isatty = getattr(sys.stderr, "isatty", None)
    if not (isatty and isatty()):
        kwargs.setdefault("mininterval", LOG_REDRAW_S)
    return tqdm(**kwargs)


def tqdm_bytes(description: str):
    """A download progress callback ``(done, total)`` drawing a tqdm bar in bytes."""
    bar = {"bar": None}

    def progress(done: int, total: int) -> None:
        if bar["bar"] is None:
            bar["bar"] = progress_bar(total=total or None, unit="B", unit_scale=True, desc=description)
        bar["bar"].update(done - bar["bar"].n)
        if total and done >= total:
            bar["bar"].close()

    return progress


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model name (see `napari-ruac info`) or checkpoint path; default: best available")
    parser.add_argument("--config", help="SAM2 config for a .pt checkpoint whose architecture is not in its name")
    parser.add_argument("--ruac-checkpoint", help="trained RUAC head (.safetensors/.json) to put on the model")
    parser.add_argument("--device", default="auto", help="auto (cuda → mps → cpu), cpu, cuda, cuda:1, mps")
    parser.add_argument("--method", default=DEFAULT_METHOD,
                        help=f"ruac-hyp, ruac, ruac-mc, sam2, tta, prompt, laplace, varnet (default {DEFAULT_METHOD})")
    parser.add_argument("--num-samples", type=int, help="samples for sampling methods (ruac-mc 20, tta/prompt/laplace 16)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--random-weights", action="store_true", help="random weights of the same architecture (testing only)"
    )
    parser.add_argument("--image-size", type=int, help="model input size for registry models (default: their own)")
    parser.add_argument(
        "--zoom", default="auto", choices=["auto", "on", "off"],
        help="zoom-in on small objects: predict in a window around the box at the model's resolution "
             "(auto: when it gains resolution; default auto)")
    parser.add_argument(
        "--click-proposal", action="store_true",
        help="a lone positive click: also try the box of the image's own object proposal under it, kept when model "
             "and image agree (helps round, well-separated objects; see inference/click_proposal.py)")
    parser.add_argument(
        "--tracking", default="auto", choices=["auto", "memory", "projection"],
        help="volumes: SAM2's video memory or box projection from slice to slice (auto: what the model says)")


def load_model_from_args(args):
    """The model named by the model arguments (downloading with a progress bar when needed)."""
    from ..models import default_model_name, load_model

    name = args.model or default_model_name()
    return load_model(
        name,
        device=args.device,
        pretrained=not getattr(args, "random_weights", False),
        config=getattr(args, "config", None),
        image_size=getattr(args, "image_size", None),
        ruac_checkpoint=getattr(args, "ruac_checkpoint", None),
        progress=tqdm_bytes(f"downloading {name}"),
    )


def method_options(args) -> dict:
    """``seed``, ``zoom``, ``tracking`` and, when given, ``num_samples`` for the predictor."""
    options = {"seed": args.seed, "zoom": getattr(args, "zoom", "auto")}
    if getattr(args, "tracking", "auto") != "auto":
        options["tracking"] = args.tracking
    if getattr(args, "click_proposal", False):
        options["click_proposal"] = True
    if args.num_samples is not None:
        if args.num_samples < 1:
            raise CommandError(f"--num-samples must be at least 1 (e.g. 16); got {args.num_samples}.")
        options["num_samples"] = args.num_samples
    return options


def add_read_arguments(parser: argparse.ArgumentParser) -> None:
    """Which part of a time series or multi-channel file to segment."""
    parser.add_argument("--timepoint", type=int, metavar="N", help="time series / 4D NIfTI: the time point to segment")
    parser.add_argument("--channel", type=int, metavar="N", help="multi-channel images: the channel to segment")
    parser.add_argument("--channel-axis", type=int, metavar="N", help="which stored axis holds channels (.npy, bare TIFF)")


def read_options(args) -> dict:
    """``read_image`` keywords from ``--timepoint``, ``--channel``, ``--channel-axis``."""
    return dict(timepoint=args.timepoint, channel=args.channel, channel_axis=args.channel_axis)


def add_cache_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache", metavar="DIR", help="on-disk embedding cache: reuse (and fill) DIR/<input>.zarr (see `napari-ruac embed`)"
    )


def print_message(message: str) -> None:
    """A library notice (e.g. a stale embedding cache being recomputed), one line on stderr."""
    import sys

    print(message, file=sys.stderr)


def add_intensity_arguments(parser: argparse.ArgumentParser, window_help: str) -> None:
    parser.add_argument("--intensity", default="auto", choices=list(INTENSITY_CHOICES))
    parser.add_argument("--window", type=float, nargs=2, metavar=("LOW", "HIGH"), help=window_help)


def intensity_from_args(args):
    """``--window LOW HIGH`` as a (low, high) window, else the ``--intensity`` mode name."""
    if args.window:
        low, high = args.window
        if not low < high:  # also catches nan
            raise CommandError(f"--window LOW HIGH needs LOW < HIGH (e.g. --window -160 240 for CT); got {low:g} {high:g}.")
        return tuple(args.window)
    return args.intensity


def parse_points(values: list[str] | None) -> list[list[float]] | None:
    """``["120,85", "140,90"]`` → ``[[120.0, 85.0], [140.0, 90.0]]`` (None when no points)."""
    if not values:
        return None
    points = []
    for value in values:
        try:
            x, y = (float(v) for v in value.split(","))
        except ValueError:
            raise CommandError(f"--points takes X,Y pairs such as 120,85; got {value!r}") from None
        points.append([x, y])
    return points
