"""``napari-ruac info``: version, devices, cache folder, models present, methods."""

from __future__ import annotations

import argparse
import sys

HELP = "devices, cache folder, models present, methods"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="check which methods this model can run (default: the default model)")
    parser.add_argument("--device", default="cpu", help="device to load that model on for the check (default cpu)")


def run(args) -> int:
    import torch

    from .. import __version__
    from ..models import MODELS, cache_dir, default_model_name, embedded_models
    from ..models.device import available_devices
    from ..models.registry import checkpoint_path
    from ..models import load_model
    from ..uq import available_methods, get_method, method_readiness

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
    name = args.model or default_model_name()
    try:
        readiness = method_readiness(load_model(name, device=args.device))
    except Exception as exc:  # the listing still helps; say why the check could not run
        readiness = {}
        print(f"methods (could not load {name} to check them: {exc}):")
    else:
        print(f"methods (✓ = {name} can run it now):")
    for method in available_methods():
        missing = readiness.get(method)
        mark = " " if not readiness else ("✓" if missing is None else "✗")
        print(f"  {mark} {method:10s} {get_method(method).description}")
        if missing:
            print(f"      not now: {missing}")
    return 0
