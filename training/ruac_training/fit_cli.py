"""``ruac-train fit-laplace`` / ``ruac-train fit-varnet``: give a model the post-hoc heads that the
``laplace`` and ``varnet`` methods need, from a folder of annotated images, and save it.

    ruac-train fit-laplace MODEL DATA_DIR --out STEM [--max-images N] [--fit-size 128]
    ruac-train fit-varnet  MODEL DATA_DIR --out STEM [--max-images N] [--steps 500]

``DATA_DIR`` is laid out as ``napari-ruac evaluate`` reads it (``images/`` + ``masks/``; stacks and
NIfTI volumes give one item per slice with foreground). ``MODEL`` is a registry name or a checkpoint.
The result (``STEM.safetensors`` + ``STEM.json``) is the same model with the head attached: load it
with ``napari_ruac.load_model("STEM.json")`` or ``--model STEM.json``, and the method runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from napari_ruac.evaluation.datasets import find_pairs, item_labels, iter_items

COMMANDS = ("fit-laplace", "fit-varnet")


def _parser(command: str) -> argparse.ArgumentParser:
    what = "a last-layer Laplace posterior" if command == "fit-laplace" else "a variance network"
    parser = argparse.ArgumentParser(prog=f"ruac-train {command}",
                                     description=f"Fit {what} for MODEL on annotated images and save the model with it.")
    parser.add_argument("model", help="registry name (napari-ruac info lists them) or a checkpoint (.json/.pt)")
    parser.add_argument("data", help="annotated folder: images/ + masks/ (as napari-ruac evaluate reads it)")
    parser.add_argument("--out", required=True, help="output stem: writes STEM.safetensors and STEM.json")
    parser.add_argument("--max-images", type=int, default=None, metavar="N", help="use the first N items only")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    if command == "fit-laplace":
        parser.add_argument("--fit-size", type=int, default=128, help="GGN grid side (UncertSAM: 128)")
    else:
        parser.add_argument("--steps", type=int, default=500, help="optimiser steps (default 500)")
        parser.add_argument("--seed", type=int, default=0)
    return parser


def annotated_items(folder: str | Path, max_images: int | None) -> list[tuple]:
    """[(image, labels, value_range)] of the folder's items that have at least one object."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder: give the annotated folder (images/ + masks/).")
    if max_images is not None and max_images < 1:
        raise ValueError(f"--max-images must be at least 1, got {max_images}")
    out = []
    for pair in find_pairs(folder):
        for item in iter_items(pair, folder.name):
            labels = item_labels(item)
            if labels.any():
                out.append((item.image, labels, item.value_range))
            if max_images is not None and len(out) >= max_images:
                return out
    if not out:
        raise ValueError(f"no annotated object in {folder}: its masks are all background.")
    return out


def run(command: str, argv: list[str]) -> int:
    from napari_ruac.models import load_model, save_ruac_checkpoint

    args = _parser(command).parse_args(argv)
    out = Path(args.out).expanduser()
    if out.suffix in (".json", ".safetensors"):
        out = out.with_suffix("")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"--out {args.out}: the folder {out.parent} does not exist; create it first.")
    items = annotated_items(args.data, args.max_images)
    model = load_model(args.model, device=args.device)
    print(f"{command}: {len(items)} annotated images, model {model.info.name}")
    if command == "fit-laplace":
        from napari_ruac.uq.laplace import LaplaceFitter

        fitter = LaplaceFitter(model, fit_size=args.fit_size)
        for index, (image, labels, value_range) in enumerate(items, start=1):
            fitter.add(image, labels, value_range=value_range)
            print(f"  image {index}/{len(items)}", flush=True)
        model.attach("laplace", fitter.posterior_result())
    else:
        from .posthoc import iter_train_varnet

        images = [image for image, _, _ in items]
        masks = [labels for _, labels, _ in items]
        for event in iter_train_varnet(model, images, masks, steps=args.steps, seed=args.seed):
            if event["step"] % max(1, args.steps // 10) == 0 or event["step"] == args.steps:
                print(f"  step {event['step']}/{args.steps} loss {event['loss']:.4f}", flush=True)
    weights, config = save_ruac_checkpoint(model, out, include_sam2=not model.info.base_model)
    method = "laplace" if command == "fit-laplace" else "varnet"
    print(f"wrote {weights} and {config}")
    print(f"use it: napari-ruac segment IMAGE --model {config} --method {method}")
    return 0
