"""The uncertainty study of issue 13 (`make study`): does a method's uncertainty find the errors a
reviewer must fix? Every method, on shifted generated scenes and on real labelled sets.

    python scripts/evaluate_uncertainty.py [--model ruac-micro] [--baseline runs/.../model.json]
        [--quick] [--out runs/uncertainty_study] [--docs docs]

Data (written once under OUT/data; the objects scored per image are a seeded sample of those
larger than the evaluation's minimum area and, for tiles, not cut by the tile border):
- ``shifted_scenes``: generated scenes with ``shifted=True`` (seed 7002, as docs/shift_study.md).
- ``dsb2018_nuclei``: the stardist package's bundled img2d/mask2d (fluorescence nuclei from the 2018
  Data Science Bowl, BBBC038; BSD-3 package), 512×512 cut into four 256×256 tiles.
- ``stardist_nuclei3d``: slices of its img3d/mask3d (a synthetic nuclei stack, 31×61×57).
- ``skimage_real``: scikit-image's coins, cell and phantom with classical masks (scripts/real_masks.py).
The stardist sets come from ``napari_ruac.evaluation.real_sets`` (package installed for its data
only by ``make setup``; never imported).

Post-hoc heads are fitted on generated training-domain scenes (seed 7003), never on the
evaluation sets: the Laplace posterior (LaplaceFitter) and the variance network
(ruac_training.posthoc.train_varnet). Prompts: the tight ground-truth box + 2 px per object.
The logic lives in napari_ruac.evaluation (runner, image_level, study); this script prepares
data and heads, runs it, and writes OUT/report.md (+ the tables into docs/shift_study.md with --docs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

SEED = 7100
FULL = {"scenes": 60, "scene_objects": 2, "tiles": 4, "tile_objects": 6, "slices": 6, "slice_objects": 4,
        "real_objects": 4, "fit_scenes": 12, "varnet_steps": 300}  # fmt: skip
QUICK = {"scenes": 6, "scene_objects": 2, "tiles": 1, "tile_objects": 3, "slices": 2, "slice_objects": 2,
         "real_objects": 2, "fit_scenes": 4, "varnet_steps": 30}  # fmt: skip


# ---- data ----------------------------------------------------------------------------------------
def sample_objects(labels: np.ndarray, count: int, seed: list[int], drop_border: bool) -> np.ndarray:
    """At most ``count`` objects (seeded) larger than the evaluation's minimum area, relabelled 1..n."""
    from napari_ruac.core.objects import default_min_area

    ids, areas = np.unique(labels[labels > 0], return_counts=True)
    eligible = ids[areas > default_min_area(labels.shape)]
    if drop_border:
        edge = np.unique(np.r_[labels[0], labels[-1], labels[:, 0], labels[:, -1]])
        eligible = np.setdiff1d(eligible, edge)
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(eligible, min(count, len(eligible)), replace=False)) if len(eligible) else []
    out = np.zeros(labels.shape, np.uint16)
    for new_id, old_id in enumerate(keep, start=1):
        out[labels == old_id] = new_id
    return out


def write_set(folder: Path, images: dict[str, tuple[np.ndarray, np.ndarray]], count: int, drop_border: bool) -> Path:
    """images/ + masks/ (TIFF, dtype kept) of the sampled objects; skipped when already written."""
    import tifffile

    if (folder / "done.json").is_file():
        return folder
    for sub in ("images", "masks"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    record = {}
    for index, (name, (image, labels)) in enumerate(sorted(images.items())):
        sampled = sample_objects(np.asarray(labels), count, [SEED, index], drop_border)
        tifffile.imwrite(folder / "images" / f"{name}.tif", np.asarray(image))
        tifffile.imwrite(folder / "masks" / f"{name}.tif", sampled)
        record[name] = int(sampled.max())
    (folder / "done.json").write_text(json.dumps({"objects": record, "seed": SEED}, indent=1))
    return folder


def prepare_data(root: Path, size: dict) -> dict[str, Path]:
    from evaluate_micro import SEEDS, write_scenes
    from real_masks import real_images

    from napari_ruac.evaluation.real_sets import dsb2018_nuclei, stardist_nuclei_3d

    image2d, mask2d = dsb2018_nuclei()
    tiles = {f"dsb_tile{t}": (image2d[y : y + 256, x : x + 256], mask2d[y : y + 256, x : x + 256])
             for t, (y, x) in enumerate([(0, 0), (0, 256), (256, 0), (256, 256)][: size["tiles"]])}  # fmt: skip
    image3d, mask3d = stardist_nuclei_3d()
    zs = np.linspace(2, image3d.shape[0] - 3, size["slices"]).round().astype(int)
    slices = {f"nuclei3d_z{z:02d}": (image3d[z], mask3d[z]) for z in zs}
    real = {name: pair for name, pair in real_images().items()}
    return {
        "shifted_scenes": write_scenes(root / "shifted_scenes", size["scenes"], SEEDS["synthetic_shifted"], True, size["scene_objects"]),
        "dsb2018_nuclei": write_set(root / "dsb2018_nuclei", tiles, size["tile_objects"], drop_border=True),
        "stardist_nuclei3d": write_set(root / "stardist_nuclei3d", slices, size["slice_objects"], drop_border=False),
        "skimage_real": write_set(root / "skimage_real", real, size["real_objects"], drop_border=False),
        "fit": write_scenes(root / "fit_scenes", size["fit_scenes"], SEEDS["laplace_fit"], False, 20),
    }


# ---- post-hoc heads (fitted on generated training-domain scenes only) ------------------------------
def fit_laplace(model, folder: Path, out: Path) -> Path:
    """A Laplace posterior fitted on training-domain scenes (not on the evaluation images)."""
    import imageio.v3 as iio

    from napari_ruac.uq.laplace import LaplaceFitter, save_laplace

    stem = out / "laplace_posterior"
    if stem.with_suffix(".json").is_file():
        return stem
    fitter = LaplaceFitter(model)
    for path in sorted((folder / "images").glob("*.png")):
        labels = np.asarray(iio.imread(folder / "masks" / path.name)).astype(np.int32)
        if labels.max() > 0:
            fitter.add(np.asarray(iio.imread(path)), labels)
    save_laplace(fitter.posterior_result(), stem)
    return stem


def fit_varnet(model, folder: Path, out: Path, steps: int) -> None:
    """Train (or reload) the variance network and attach it to ``model``."""
    import imageio.v3 as iio
    import torch

    from napari_ruac.models.extra_heads import VarianceHead

    path = out / f"varnet_{steps}.pt"
    head = VarianceHead(transformer_dim=model.sam2.sam_mask_decoder.transformer_dim)
    if path.is_file():
        head.load_state_dict(torch.load(path, weights_only=True))
        head.eval()
        model.attach("varnet", head.to(model.device))
        return
    from ruac_training.posthoc import train_varnet

    files = sorted((folder / "images").glob("*.png"))
    images = [np.asarray(iio.imread(p)) for p in files]
    masks = [np.asarray(iio.imread(folder / "masks" / p.name)).astype(np.int32) for p in files]
    head = train_varnet(model, images, masks, steps=steps, head=head.to(model.device))
    out.mkdir(parents=True, exist_ok=True)
    torch.save(head.state_dict(), path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="ruac-micro", help="the RUAC model (shipped name or model.json)")
    parser.add_argument("--baseline", default=None, help="the same training without attackers and UAA (model.json); default: no row")
    parser.add_argument("--out", default=None, help="output folder (default runs/uncertainty_study[_quick]); reruns resume")
    parser.add_argument("--quick", action="store_true", help="a small run (minutes): a few scenes, tiles and objects")
    parser.add_argument("--docs", default=None, help="write the tables into DOCS/shift_study.md and the plots into DOCS/")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--methods", default=None,
                        help="comma-separated subset of the study's methods (default: all); reruns add to the same --out")
    args = parser.parse_args(argv)
    import torch

    from napari_ruac.core.progress import Progress
    from napari_ruac.evaluation.study import BASELINE, STUDY_METHODS, replace_generated_block, run_study, study_report
    from napari_ruac.models import load_model

    methods = STUDY_METHODS if args.methods is None else tuple(m.strip() for m in args.methods.split(",") if m.strip())
    unknown = sorted(set(methods) - set(STUDY_METHODS))
    if unknown:
        parser.error(f"--methods: unknown {', '.join(unknown)}; choose from {', '.join(STUDY_METHODS)}")
    torch.set_num_threads(args.threads)
    size = QUICK if args.quick else FULL
    out = Path(args.out or ("runs/uncertainty_study_quick" if args.quick else "runs/uncertainty_study"))
    started = time.perf_counter()
    data = prepare_data(out / "data", size)
    model = load_model(args.model, device=args.device)
    (out / "heads").mkdir(parents=True, exist_ok=True)
    posterior = fit_laplace(model, data["fit"], out / "heads") if "laplace" in methods else None
    if "varnet" in methods:
        fit_varnet(model, data["fit"], out / "heads", size["varnet_steps"])
    print(f"data and heads ready ({time.perf_counter() - started:.0f} s)", flush=True)
    baseline = load_model(args.baseline, device=args.device) if args.baseline else None
    datasets = [data[name] for name in ("shifted_scenes", "dsb2018_nuclei", "stardist_nuclei3d", "skimage_real")]
    events = run_study(datasets, model, out, baseline=baseline, methods=methods, device=args.device,
                       box_margin=2.0, band=2.0, **({"laplace_posterior": str(posterior)} if posterior else {}))  # fmt: skip
    for event in events:
        if isinstance(event, Progress) and (event.done % 10 == 0 or event.done == event.total):
            stage = event.item.split("/")[0]
            print(f"  {stage}: {event.done}/{event.total} files ({time.perf_counter() - started:.0f} s)", flush=True)
    methods = list(methods) + ([BASELINE] if baseline is not None else [])
    load = os.getloadavg()[0]
    notes = [
        f"model: {model.info.name} ({model.info.source}); baseline: {args.baseline or 'none given (no ruac-baseline row)'}",
        f"{'quick' if args.quick else 'full'} run, CPU, torch threads {args.threads}, load average {load:.1f} at the end, "
        f"{time.perf_counter() - started:.0f} s in all",
        "prompts: tight ground-truth box + 2 px; band 2 px; heads (laplace, varnet) fitted on "
        f"{size['fit_scenes']} generated training-domain scenes (varnet {size['varnet_steps']} steps)",
        "interior AUROC, pixel AUROC, mIoU, s/object: mean over objects; coverage: mean over images with "
        "substantive error; object ρ and failed-object AUROC (IoU < 0.8): pooled over the dataset's objects",
    ]
    names = [Path(d).name for d in datasets]
    report, numbers = study_report(out, names, methods, notes)
    (out / "results.json").write_text(json.dumps(numbers, indent=1, default=float))
    text = report.read_text()
    print(text)
    if args.docs:
        docs = Path(args.docs)
        plots = sorted((out / "plots").glob("*.png"))
        for path in plots:
            shutil.copy(path, docs / path.name)
        links = ", ".join(f"[{p.stem.removeprefix('study_')}]({p.name})" for p in plots)
        command = "python scripts/evaluate_uncertainty.py " + " ".join(argv if argv is not None else sys.argv[1:])
        replace_generated_block(docs / "shift_study.md", f"Command: `{command}`\n\n{text}\nPlots: {links}\n")
        print(f"tables written into {docs / 'shift_study.md'}")
    print(f"report: {report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
