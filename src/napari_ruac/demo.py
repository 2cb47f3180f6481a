"""``napari-ruac demo``: segment the bundled samples from files, as a user would, and report.

Writes the samples (a nuclei z-stack as TIFF, a CT phantom as NIfTI, a 2D nuclei image as PNG)
into ``OUT/inputs``, segments a few objects of each with box prompts taken from their ground
truth (volumes: the object's largest slice, then propagation through z), writes mask,
uncertainty and overlay files, and a ``report.md`` with IoU and how well the uncertainty
finds the wrong pixels (AUROC) per object.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .core.boxes import box_on_largest_slice
from .core.intensity import percentile_range, stretch
from .uq import DEFAULT_METHOD

DEMO_OBJECTS = 2  # objects per sample


def _largest_objects(labels: np.ndarray, count: int) -> list[int]:
    ids, sizes = np.unique(labels[labels > 0], return_counts=True)
    return [int(i) for i in ids[np.argsort(-sizes)][:count]]


def write_demo_inputs(folder: Path) -> list[tuple[Path, np.ndarray, tuple | None]]:
    """The bundled samples as files: (path, ground-truth labels, intensity window or None)."""
    from .io import write_image
    from .samples import ct_phantom, nuclei_image, nuclei_stack

    folder.mkdir(parents=True, exist_ok=True)
    stack, ct, image = nuclei_stack(seed=0), ct_phantom(seed=0), nuclei_image(seed=1)
    files = [
        (write_image(folder / "nuclei_stack.tif", stack.image, spacing=stack.spacing, kind="image"), stack.labels, None),
        (write_image(folder / "ct_phantom.nii.gz", ct.image, affine=ct.affine, kind="image"), ct.labels, ct.window),
        (write_image(folder / "nuclei_2d.png", _to_uint8(image.image), kind="image"), image.labels, None),
    ]
    return files


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return (stretch(image, *percentile_range(image, (0.5, 99.5))) * 255).astype(np.uint8)


def run_demo(model, out: Path, method: str = DEFAULT_METHOD, objects: int = DEMO_OBJECTS, **options) -> Path:
    """Run the demo with a loaded model; returns the report path."""
    from .io import read_image
    from .metrics import evaluate
    from .segmentation import run_segmentation

    out = Path(out).absolute()  # outputs come back absolute; the report links them relative to it
    rows = []
    for path, labels, window in write_demo_inputs(out / "inputs"):
        data = read_image(path)
        for object_id in _largest_objects(labels, objects):
            z, box = box_on_largest_slice(labels == object_id)
            z = z if labels.ndim == 3 else None
            prompts = {z: dict(box=box)} if data.is_volume else dict(box=box)
            started = time.perf_counter()
            result = run_segmentation(
                data, model, prompts, out_dir=out / f"{path.name.split('.')[0]}_object{object_id}",
                method=method, intensity=window, **options,
            )
            seconds = time.perf_counter() - started
            truth = labels == object_id
            predicted = read_image(result.mask).array.astype(bool).reshape(truth.shape)
            uncertainty = read_image(result.uncertainty).array.astype(np.float32).reshape(truth.shape)
            scores = evaluate(predicted.astype(np.float32), uncertainty, truth, prediction=predicted)
            stops = [f"slice {z}: {reason}" for z, reason in result.tracking_stops]
            rows.append((path.name, object_id, z, scores, seconds, result.overlay, stops))
    report = out / "report.md"
    lines = [
        f"# napari-ruac demo — model `{model.info.name}` ({model.info.source}), method `{method}`",
        "",
        f"Zoom-in `{options.get('zoom', 'auto')}`; volumes tracked by "
        f"`{options.get('tracking') or model.info.notes.get('volume_tracking', 'memory')}` from one box on each "
        "object's largest slice (projection: the last accepted mask and its box prompt the next slice; rules in "
        "`inference/volume_projection.py`). 3D IoU is over the whole volume.",
        "",
        "| input | object | prompt slice | IoU | Dice | AUROC(U → error) | mean U | seconds | overlay |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, object_id, z, s, seconds, overlay, _ in rows:
        lines.append(
            f"| {name} | {object_id} | {'-' if z is None else z} | {s['iou']:.3f} | {s['dice']:.3f} | "
            f"{s['auroc']:.3f} | {s['mean_uncertainty']:.3f} | {seconds:.1f} | [{overlay.name}]({overlay.relative_to(out)}) |"
        )
    ious = [r[3]["iou"] for r in rows]
    lines += ["", f"mean IoU over {len(rows)} objects: {np.mean(ious):.3f}"]
    stopped = [f"- {name} object {object_id}: {'; '.join(stops)}" for name, object_id, *_, stops in rows if stops]
    if stopped:
        lines += ["", "Where projection tracking stopped (prompt these slices to go on):", *stopped]
    report.write_text("\n".join(lines) + "\n")
    return report

