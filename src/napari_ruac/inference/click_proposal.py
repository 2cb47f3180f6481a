"""A lone positive click, checked against the image's own object proposal under it.

From one click a small model often draws the wrong hypothesis (a part, or the object with its neighbour),
while it segments a box well. So after the click's first answer (which measures the object), the image itself
proposes the object under the click (``proposals.blobs.blob_regions`` in a window reaching ``WINDOW_EXTENTS``
answer extents from the click: a threshold, Laplacian-of-Gaussian markers and a watershed, as segment-everything
proposes its boxes), and that proposal's box is decoded together with the click, in the click's own window (its
embedding is cached). The box's mask replaces the click's only when all three hold:

- it agrees with the proposal (IoU ≥ ``MIN_PROPOSAL_IOU``): the model and the image see the same object;
- it overlaps the click's own answer (IoU ≥ ``MIN_CLICK_IOU``): the object the click's answer found, not
  another reading of the scene;
- it is about as stable (``core.overlap.stability_score`` at least the click's − ``STABILITY_SLACK``).

Otherwise the click's answer stands, and where the image proposes nothing at the click (an object the
threshold does not separate, a CT organ among organs) nothing changes. The checks were chosen on generated
tuning scenes (``SyntheticDataset`` seeds 7260001 and 7260101, 24 scenes each, 256–1024 px, one click at each
object's most interior pixel, ruac-micro; 280 objects): with a box grown by 10 % mean IoU 0.615 → 0.675 (taking
every proposal's box instead: 0.629, CT −0.35 on one set; the better of the two answers per object, which needs
the truth: 0.727; a solidity or area-ratio check added ≤ 0.005); the proposal's tight box (``BOX_MARGIN`` 0) then
gave 0.588 → 0.651 and 0.639 → 0.764 on the two sets.

**Off by default** (``ImagePredictor(click_proposal=True)``, CLI ``--click-proposal``). Held out
(``scripts/compare_models.py --parts clicks``, benchmarks/RESULTS.md): one click on generated scenes 0.708 →
0.759, real coins 0.846 → 0.936, scikit-image's cell 0.964 → 0.980, but real DSB2018 nuclei 0.671 → 0.654 and
the Shepp–Logan phantom's inner ellipses 0.676 → 0.635: on the real nuclei the proposal is right (median IoU 0.80
with the truth), but the model's mask from its box is too large (1.5× the true area with the 10 % box; ruac-micro
draws real nuclei too large from any box, docs/micro_model.md). Cost: about 0.1 s per lone click on 2 CPU cores (the proposal), no extra encode.
"""

from __future__ import annotations

import numpy as np

from ..core.boxes import grown_box
from ..core.overlap import iou, stability_score
from ..proposals.blobs import blob_regions

MIN_PROPOSAL_IOU = 0.5
MIN_CLICK_IOU = 0.3
STABILITY_SLACK = 0.05
WINDOW_EXTENTS = 2.0  # the proposal window reaches this many answer extents from the click (at least MIN_REACH px)
MIN_REACH = 64
BOX_MARGIN, BOX_MIN_MARGIN = 0.0, 0.0  # the proposal's box: grown by this share of its side, at least this many px


def proposal_under_click(image: np.ndarray, point, answer: np.ndarray) -> np.ndarray | None:
    """The image's own proposal (bool, image-sized) for the object under ``point`` (x, y), looked for in a
    window around it sized by the click's first ``answer``; None when the image proposes nothing there."""
    height, width = image.shape[:2]
    col = min(max(int(point[0]), 0), width - 1)
    row = min(max(int(point[1]), 0), height - 1)
    extent = 0
    if answer.any():
        rows, cols = np.nonzero(answer)
        extent = max(np.ptp(rows), np.ptp(cols)) + 1
    reach = int(max(MIN_REACH, WINDOW_EXTENTS * extent))
    y0, x0 = max(0, row - reach), max(0, col - reach)
    y1, x1 = min(height, row + reach + 1), min(width, col + reach + 1)
    crop = image[y0:y1, x0:x1]
    if float(np.ptp(crop)) == 0.0:
        return None
    regions = blob_regions(crop)
    index = regions[row - y0, col - x0]
    if not index:
        return None
    region = np.zeros((height, width), bool)
    region[y0:y1, x0:x1] = regions == index
    return region


def checked_click(predictor, answer, point, options: dict):
    """``answer`` (the Prediction of one positive click at ``point``) or, when it passes the module's checks,
    the Prediction of the proposal's box with the click; its ``extras["proposal_box"]`` says which box."""
    region = proposal_under_click(predictor._array, point, answer.mask)
    if region is None:
        return answer
    box = grown_box(region, margin=BOX_MARGIN, min_margin=BOX_MIN_MARGIN)
    # decoded in the click's own window (its embedding is cached: no new encode, which costs seconds with SAM2.1)
    candidate = predictor.predict_batch(boxes=[box], points=[[list(point)]], window=answer.window,
                                        **{**options, "labels": [[1]]})[0]
    if (iou(candidate.mask, region, empty=0.0) >= MIN_PROPOSAL_IOU
            and iou(candidate.mask, answer.mask, empty=0.0) >= MIN_CLICK_IOU
            and stability_score(candidate.probability) >= stability_score(answer.probability) - STABILITY_SLACK):
        candidate.extras["proposal_box"] = [float(v) for v in box]
        return candidate
    return answer
