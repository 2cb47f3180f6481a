"""Validation: clean images, the exact box of each object, one decoder pass, the RUAC analytic
maps, and the metrics of ``napari_ruac.metrics.evaluate`` averaged over objects (all ranks)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from napari_ruac.metrics import evaluate
from napari_ruac.metrics.object_level import object_spearman
from napari_ruac.models.uncertainty import binary_entropy

from .distributed import all_reduce_sum
from .prompts import mask_boxes


@torch.no_grad()
def validate(model, loader, device: torch.device, autocast_dtype, max_batches: int | None = None) -> dict[str, float]:
    """Mean metrics over the validation objects (nan-aware, summed across ranks). Leaves the model in
    eval mode: the trainer restores its per-part train modes."""
    model.eval()
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    low = model.low_res_size
    object_scores: dict[str, list[float]] = {"": [], "entropy_": []}
    object_ious: list[float] = []
    for batch_index, batch in enumerate(loader):
        if max_batches is not None and batch_index >= max_batches:
            break
        images = batch["image"].to(device, non_blocking=True)
        masks = batch["masks"].to(device, non_blocking=True)
        image_rows, object_rows = torch.nonzero(batch["valid"].to(device), as_tuple=True)
        if len(image_rows) == 0:
            continue
        targets = masks[image_rows, object_rows]
        with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
            features = model.encode_image(images)
            boxes = mask_boxes(targets > 0)
            sparse, dense = model.encode_prompts(boxes=boxes)
            rows_features = type(features)(features.image_embed[image_rows], [f[image_rows] for f in features.high_res])
            _, selected = model.decode(rows_features, sparse, dense, multimask=False, repeat_image=False)
        with torch.autocast(device.type, enabled=False):
            mean_logit, probability, uncertainty = model.head.analytic(model.weibull(_float_selected(selected)))
        target_low = F.interpolate(targets[:, None].float(), size=(low, low), mode="area")[:, 0] > 0.5
        entropy = binary_entropy(torch.sigmoid(mean_logit.float()))  # SAM2's own probability σ(E[ℓ]), no variance
        for p, u, h, t in zip(probability.cpu().numpy(), uncertainty.cpu().numpy(), entropy.cpu().numpy(),
                              target_low.cpu().numpy()):
            # the model's map, and SAM2's free entropy (of σ(mean logit)) as the baseline to beat
            for prefix, map_ in (("", u), ("entropy_", h)):
                metrics = evaluate(p, map_, t)
                object_scores[prefix].append(metrics["object_score"])
                for key, value in metrics.items():
                    if prefix and key not in ENTROPY_KEYS:
                        continue
                    if not math.isnan(value):
                        sums[prefix + key] = sums.get(prefix + key, 0.0) + value
                        counts[prefix + key] = counts.get(prefix + key, 0.0) + 1.0
                if not prefix:
                    object_ious.append(metrics["iou"])
    for prefix, scores in object_scores.items():
        rho = object_spearman(scores, object_ious) if len(object_ious) > 2 else float("nan")
        if not math.isnan(rho):  # one value over all objects (a rank statistic): count it once
            sums[prefix + "object_rho"] = rho
            counts[prefix + "object_rho"] = 1.0
    keys = _metric_keys()
    totals = all_reduce_sum(torch.tensor([[sums.get(k, 0.0), counts.get(k, 0.0)] for k in keys], dtype=torch.float64, device=device))
    return {k: float(s / c) if c > 0 else float("nan") for k, (s, c) in zip(keys, totals.tolist())}


# the uncertainty metrics also reported for the entropy baseline (keys prefixed "entropy_")
ENTROPY_KEYS = ("auroc", "interior_auroc", "interior_pearson")


def _metric_keys() -> list[str]:
    from napari_ruac.metrics import EVALUATE_KEYS

    return [*EVALUATE_KEYS, *("entropy_" + k for k in ENTROPY_KEYS), "object_rho", "entropy_object_rho"]


def _float_selected(selected):
    for name in ("upscaled", "hyper_in", "mask_token"):
        setattr(selected, name, getattr(selected, name).float())
    return selected
