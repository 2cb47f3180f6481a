"""Projection tracking: carry an object from slice to slice by prompting each slice with the box
of the previous slice's mask (micro-sam's "box projection"), for models without a trained video
memory (the shipped ``ruac-micro``) or by choice (``VolumePredictor(tracking="projection")``).

The object runs forward from its first prompted slice, then backward; a slice that has its own
prompt uses it. Tracking stops in a direction when the mask vanishes (fewer than ``min_area``
pixels), jumps (IoU with the previous slice's mask below ``min_overlap``) or
spreads (area above ``max_growth`` × the previous one: the box then holds a neighbour): the
remaining slices of that direction are empty, and the slice where the rule fired says which rule
(so a reviewer knows where to add a prompt). Every slice gets the method's probability and uncertainty.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from ..core.boxes import grown_box
from ..core.overlap import iou
from .volume_result import SliceResult


def stop_reason(mask: np.ndarray, previous: np.ndarray, min_area: int, min_overlap: float,
                max_growth: float) -> str | None:
    """Why ``mask`` cannot continue the track of ``previous`` (None: it can)."""
    area, before = int(mask.sum()), int(previous.sum())
    if area < min_area:
        return f"the mask vanished ({area} px)"
    if area > max_growth * before:
        return f"the mask spread to {area / before:.1f}× the slice it came from (a neighbour in the box?)"
    overlap = iou(mask, previous, empty=0.0)
    if overlap < min_overlap:
        return f"the mask jumped (IoU {overlap:.2f} with the slice it came from)"
    return None


def iter_projection(
    predictor,
    array: np.ndarray,
    objects: dict[int, dict[int, dict]],
    direction: str,
    value_range: tuple[float, float],
    min_area: int = 4,
    min_overlap: float = 0.3,
    max_growth: float = 1.5,
) -> Iterator[SliceResult]:
    """Yields a ``SliceResult`` per (slice, object): empty (object score -1) where tracking stopped,
    ``stopped`` naming the rule (see ``stop_reason``) on the slice where it fired.

    ``predictor``: an ImagePredictor (its method and cache are used); ``objects``: validated
    ``{object_id: {z: prompt dict}}`` in image pixels.
    """
    num_slices = array.shape[0]
    starts = {oid: min(prompts) for oid, prompts in objects.items()}
    forward = direction != "backward"
    backward = direction != "forward"
    plan: list[tuple[int, list[int], bool]] = []  # (z, object ids, reverse)
    prompted = sorted({z for prompts in objects.values() for z in prompts})
    plan += [(z, [oid for oid, p in objects.items() if z in p], False) for z in prompted]
    if forward:
        plan += [(z, [oid for oid in objects if z > starts[oid] and z not in objects[oid]], False) for z in range(num_slices)]
    if backward:
        plan += [(z, [oid for oid in objects if z < starts[oid] and z not in objects[oid]], True)
                 for z in range(num_slices - 1, -1, -1)]
    plan = [step for step in plan if step[1]]
    total = sum(len(oids) for _, oids, _ in plan)
    done = 0
    prompted_masks: dict[int, dict[int, np.ndarray]] = {oid: {} for oid in objects}
    running: dict[tuple[int, bool], np.ndarray | None] = {}  # (object, reverse) → the last projected mask
    for z, oids, reverse in plan:
        predictor.set_image(array[z], value_range=value_range)
        for oid in oids:
            prompt = objects[oid].get(z)
            if prompt is not None:
                out = predictor.predict(**prompt)
                prompted_masks[oid][z] = out.mask
                done += 1
                yield SliceResult.from_prediction(z, oid, out, True, done, total)
                continue
            neighbour = z + 1 if reverse else z - 1
            previous = prompted_masks[oid].get(neighbour, running.get((oid, reverse)))
            box = None if previous is None else grown_box(previous)
            out, stopped = None, None
            if box is not None:
                out = predictor.predict(box=box)
                stopped = stop_reason(out.mask, previous, min_area, min_overlap, max_growth)
                if stopped is not None:
                    out = None
            running[(oid, reverse)] = None if out is None else out.mask
            done += 1
            if out is None:  # tracking stopped on or before this slice: nothing there
                yield SliceResult.absent(z, oid, array.shape[1:3], False, done, total, stopped)
            else:
                yield SliceResult.from_prediction(z, oid, out, False, done, total)
