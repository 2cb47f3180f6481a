"""The ``napari-ruac`` command line: segment, download, info, evaluate, batch, demo.

Each subcommand is a thin wrapper over a library function the tests also call.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__


class CommandError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def _tqdm_bytes(description: str):
    from tqdm import tqdm

    bar = {"bar": None}

    def progress(done: int, total: int) -> None:
        if bar["bar"] is None:
            bar["bar"] = tqdm(total=total or None, unit="B", unit_scale=True, desc=description)
        bar["bar"].update(done - bar["bar"].n)
        if total and done >= total:
            bar["bar"].close()

    return progress


def _load(args):
    from .models import default_model_name, load_model

    name = args.model or default_model_name()
    return load_model(
        name,
        device=args.device,
        pretrained=not getattr(args, "random_weights", False),
        config=getattr(args, "config", None),
        image_size=getattr(args, "image_size", None),
        ruac_checkpoint=getattr(args, "ruac_checkpoint", None),
        progress=_tqdm_bytes(f"downloading {name}"),
    )


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model name (see `napari-ruac info`) or checkpoint path; default: best available")
    parser.add_argument("--config", help="SAM2 config for a .pt checkpoint whose architecture is not in its name")
    parser.add_argument("--ruac-checkpoint", help="trained RUAC head (.safetensors/.json) to put on the model")
    parser.add_argument("--device", default="auto", help="auto (cuda → mps → cpu), cpu, cuda, cuda:1, mps")
    parser.add_argument("--method", default="ruac", help="ruac, ruac-mc, sam2, tta, prompt, laplace, varnet")
    parser.add_argument("--num-samples", type=int, help="samples for sampling methods (ruac-mc 20, tta/prompt/laplace 16)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--random-weights", action="store_true", help="random weights of the same architecture (testing only)"
    )
    parser.add_argument("--image-size", type=int, help="model input size for registry models (default: their own)")


def _intensity(args):
    if args.window:
        return tuple(args.window)
    return args.intensity


def _parse_points(values: list[str] | None) -> list[list[float]] | None:
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


def cmd_segment(args) -> int:
    from tqdm import tqdm

    from .io import read_image
    from .segmentation import Progress, iter_segmentation

    if args.all:
        return _segment_all(args)
    if args.box is None and not args.points:
        raise CommandError("give a prompt: --box X0 Y0 X1 Y1 and/or --points X,Y [X,Y ...] (with --labels), "
                           "or --all to segment every object.")
    data = read_image(args.image)
    prompt = {}
    if args.box is not None:
        prompt["box"] = args.box
    points = _parse_points(args.points)
    if points is not None:
        prompt["points"] = points
        prompt["labels"] = args.labels if args.labels is not None else [1] * len(points)
    if data.is_volume:
        z = args.slice if args.slice is not None else data.spatial_shape[0] // 2
        prompts = {z: prompt}
        if args.slice is None:
            print(f"no --slice given: prompting the middle slice z={z}", file=sys.stderr)
    else:
        if args.slice is not None:
            raise CommandError(f"{args.image} is a 2D image; --slice applies to volumes only.")
        prompts = prompt
    model = _load(args)
    options = {"seed": args.seed}
    if args.num_samples:
        options["num_samples"] = args.num_samples
    bar = None
    outputs = None
    for event in iter_segmentation(
        data, model, prompts, out_dir=args.out, method=args.method, intensity=_intensity(args),
        propagate=not args.no_propagate, **options,
    ):
        if isinstance(event, Progress):
            if event.stage == "slice":
                if bar is None:
                    bar = tqdm(total=event.total, desc="slices", unit="slice")
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
        print(f"tracking stopped on slice {z}: {reason} (prompt it with --slice to go on)")
    for line in outputs.warnings:
        print(f"warning: {line}", file=sys.stderr)
    return 0


def everything_settings(args) -> dict:
    """segment-everything settings from ``--grid``/``--tile-size``/``--tile-overlap`` (shared with batch)."""
    settings = {"points_per_side": args.grid}
    if args.tile_size is not None:
        settings["tile_size"] = args.tile_size
    if args.tile_overlap is not None:
        settings["tile_overlap"] = args.tile_overlap
    return settings


def add_everything_arguments(parser) -> None:
    group = parser.add_argument_group("--all: segment every object")
    group.add_argument("--all", action="store_true", help="segment every object (no prompt): labels, uncertainty, "
                       "<stem>_objects.csv ranked by uncertainty score")
    group.add_argument("--grid", type=int, default=16, help="--all: grid points per side per tile (density; default 16)")
    group.add_argument("--tile-size", type=int, help="--all: tile side in px (0: no tiles; default: the model's input "
                       "size when the image is larger)")
    group.add_argument("--tile-overlap", type=int, help="--all: px shared by neighbouring tiles (default: a quarter tile)")
    group.add_argument("--seed-slices", type=int, nargs="+", metavar="Z", help="--all on volumes: slices to find "
                       "objects on before tracking them through z (default: --slice, else the middle slice)")


def _segment_all(args) -> int:
    from tqdm import tqdm

    from .everything.files import iter_everything_file
    from .everything.result import Progress
    from .io import read_image

    if args.box is not None or args.points:
        raise CommandError("--all segments every object without prompts: drop --box/--points.")
    data = read_image(args.image)
    seeds = args.seed_slices or ([args.slice] if args.slice is not None else None)
    if data.is_volume and seeds is None:
        seeds = [data.spatial_shape[0] // 2]
        print(f"no --seed-slices given: finding objects on the middle slice z={seeds[0]}", file=sys.stderr)
    if not data.is_volume and seeds is not None:
        raise CommandError(f"{args.image} is a 2D image; --slice/--seed-slices apply to volumes only.")
    model = _load(args)
    bar = tqdm(total=None, desc="segment all", unit="step")
    outputs = None
    for event in iter_everything_file(data, model, args.out, method=args.method, seed_slices=seeds,
                                      intensity=_intensity(args), settings=everything_settings(args), seed=args.seed):
        if isinstance(event, Progress):
            bar.set_description(f"{event.stage} ({event.objects} objects)")
            bar.total = event.total
            bar.update(event.done - bar.n)
        else:
            outputs = event
    bar.close()
    stats = outputs.stats
    print(f"objects:     {outputs.objects}  ({stats['objects']} objects" + (", none found" if not stats["objects"] else "")
          + f"; volumes in {stats['physical_unit']})")
    print(f"labels:      {outputs.labels}")
    print(f"uncertainty: {outputs.uncertainty}")
    print(f"summary:     {outputs.summary}")
    if outputs.result.objects:
        worst = outputs.result.ranked()[0]
        print(f"review first: object {worst.id} (uncertainty score {worst.uncertainty_score:.3f})")
    return 0


def cmd_download(args) -> int:
    from .models import MODELS, download_model

    names = list(MODELS) if args.all else [args.model]
    if not args.all and not args.model:
        raise CommandError("name a model (e.g. `napari-ruac download sam2.1_hiera_tiny`) or use --all.")
    for name in names:
        path = download_model(name, progress=_tqdm_bytes(name), force=args.force)
        print(f"{name}: {path}")
    return 0


def cmd_info(args) -> int:
    import torch

    from .models import MODELS, cache_dir, default_model_name, embedded_models
    from .models.device import available_devices
    from .models.registry import checkpoint_path
    from .uq import available_methods, get_method

    print(f"napari-ruac {__version__}  (torch {torch.__version__}, python {sys.version.split()[0]})")
    print(f"devices:      {', '.join(available_devices())}  (auto picks {available_devices()[0]})")
    print(f"cache:        {cache_dir()}  (set NAPARI_RUAC_CACHE to move it)")
    print(f"default model: {default_model_name()}")
    print("models:")
    for name, path in embedded_models().items():
        print(f"  {name:24s} shipped    {path.with_suffix('.safetensors')}")
    for name, spec in MODELS.items():
        path = checkpoint_path(name)
        state = "present   " if path.is_file() else "not cached"
        print(f"  {name:24s} {state} {spec.size_bytes / 1e6:6.0f} MB  {spec.description}")
    print("methods:")
    for name in available_methods():
        print(f"  {name:10s} {get_method(name).description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="napari-ruac", description="SAM2 segmentation with a per-pixel uncertainty you can trust (RUAC)."
    )
    parser.add_argument("--version", action="version", version=f"napari-ruac {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    seg = sub.add_parser("segment", help="segment one object in an image or volume; write mask + uncertainty")
    seg.add_argument("image", help="image or volume: .tif/.ome.tif, .nii/.nii.gz, .png/.jpg, .npy")
    seg.add_argument("--box", type=float, nargs=4, metavar=("X0", "Y0", "X1", "Y1"), help="box in pixels (x = column)")
    seg.add_argument("--points", nargs="+", metavar="X,Y", help="clicks in pixels, e.g. --points 120,85 140,90")
    seg.add_argument("--labels", type=int, nargs="+", help="1 (object) or 0 (background) per point; default all 1")
    seg.add_argument("--slice", type=int, help="for volumes: the z slice the prompt is on (default: middle)")
    seg.add_argument("--no-propagate", action="store_true", help="volumes: segment the prompted slice only")
    seg.add_argument("--out", help="output folder (default: next to the input)")
    seg.add_argument("--intensity", default="auto", choices=["auto", "percentile", "minmax", "none"])
    seg.add_argument("--window", type=float, nargs=2, metavar=("LOW", "HIGH"), help="fixed intensity window, e.g. CT -160 240")
    add_everything_arguments(seg)
    add_model_arguments(seg)
    seg.set_defaults(func=cmd_segment)

    down = sub.add_parser("download", help="download a SAM2.1 checkpoint into the cache (sha256-verified)")
    down.add_argument("model", nargs="?", help="e.g. sam2.1_hiera_tiny")
    down.add_argument("--all", action="store_true", help="all registry models")
    down.add_argument("--force", action="store_true", help="download again even if present")
    down.set_defaults(func=cmd_download)

    info = sub.add_parser("info", help="devices, cache folder, models present, methods")
    info.set_defaults(func=cmd_info)

    _add_optional_commands(sub)
    return parser


def _add_optional_commands(sub) -> None:
    """Subcommands that live in their own modules (evaluation, batch, demo)."""
    try:
        from .evaluation.cli import add_evaluate_arguments, evaluate_command
    except ImportError:  # pragma: no cover - the evaluation package is part of the distribution
        pass
    else:
        ev = sub.add_parser("evaluate", help="compare uncertainty methods on labelled datasets (tables + plots)")
        add_evaluate_arguments(ev)
        ev.set_defaults(func=evaluate_command)
    from .demo import add_demo_arguments, demo_command

    demo = sub.add_parser("demo", help="segment the bundled sample data and write a small report")
    add_demo_arguments(demo)
    demo.set_defaults(func=demo_command)
    try:
        from .batch.cli import add_batch_arguments, batch_command
    except ImportError:
        return
    batch = sub.add_parser("batch", help="segment every image/volume in a folder; resumable; report.csv")
    add_batch_arguments(batch)
    batch.set_defaults(func=batch_command)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (CommandError, ValueError, RuntimeError, KeyError, OSError) as exc:
        message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"napari-ruac {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
