"""The review score: which objects of a segment-everything run to check first (one home).

Every object has its **uncertainty score** (``metrics.object_score``: the object score of the
uncertainty study). On its own it ranks badly the objects that automatic segmentation gets wrong:
a mask that swallowed a neighbour, or half of a nucleus split in two, is often *confident*. Objects
found from an image proposal (proposals/blobs.py) also carry three checks, computed while decoding them:

- ``proposal_iou``: IoU of the model's mask (before it is kept inside its proposal) with the
  proposal's region: the image and the model disagree on where the object is;
- ``kept``: the share of the model's mask that lay inside its own proposal or the background, not
  in a neighbouring proposal (a leak into a touching object);
- ``click_iou``: IoU of the mask from a click at the proposal's centre with the mask from its box
  (the two prompts disagree: the object is ambiguous for the model).

    review_score = σ(b + w_U · U − w_p · proposal_iou − w_k · kept − w_c · click_iou)

is a logistic estimate of the probability that the object is wrong (IoU < 0.7 with the true
object). The weights were fitted on generated nuclei scenes (seeds 7260001–7260015, ruac-micro)
and rounded; ``scripts/fit_review_score.py`` refits and checks them. On seeds 7260016–7260030 the
score puts 38 % of the failed objects in the top 20 %, against 30 % for the uncertainty score
(28 % with the object score's earlier region-mean), 26 % for the predicted IoU and 48 % at best.
A refit with the per-mask-pixel object score (3.4 / −1.1 / −5.9 / −2.0, bias 5.8), or with the
predicted IoU, stability, area or mean U added, did not rank better there (0.37–0.38), so the
weights stay.
Objects without the checks (grid clicks, volumes, labels edited by hand) are ranked by their
uncertainty score.
"""

from __future__ import annotations

import math

BIAS = 4.9
WEIGHTS = dict(uncertainty_score=1.2, proposal_iou=-2.2, kept=-3.4, click_iou=-1.8)
CHECKS = ("proposal_iou", "kept", "click_iou")


def review_score(uncertainty_score: float, checks: dict | None = None) -> float:
    """The estimated probability that the object is wrong, in (0, 1); without all three checks,
    the uncertainty score itself."""
    checks = checks or {}
    values = [checks.get(name) for name in CHECKS]
    if any(v is None or v != v for v in values):
        return float(uncertainty_score)
    z = BIAS + WEIGHTS["uncertainty_score"] * float(uncertainty_score)
    z += sum(WEIGHTS[name] * float(v) for name, v in zip(CHECKS, values))
    return 1.0 / (1.0 + math.exp(-z))
