"""scripts/compare_models.py: the ship-or-not verdict flags exactly the numbers where a candidate is worse."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))

import compare_models as cm  # noqa: E402


def test_worse_respects_direction_tolerance_and_context_rows():
    assert cm.worse("box +2 px mIoU, generated", 0.80, 0.81, 0.005)
    assert not cm.worse("box +2 px mIoU, generated", 0.807, 0.81, 0.005)  # within the tolerance
    assert not cm.worse("box +2 px mIoU, generated", 0.90, 0.81, 0.005)
    # an area ratio is best at 1, from either side
    assert cm.worse("box +2 px median area ratio, real/x", 1.30, 1.20, 0.005)
    assert not cm.worse("box +2 px median area ratio, real/x", 0.95, 1.20, 0.005)
    assert cm.worse("box +2 px median area ratio, real/x", 0.70, 1.20, 0.005)
    # other methods' rows are context: a change in sam2's entropy is not the model's target
    assert not cm.worse("sam2 object ρ, dsb", 0.1, 0.5, 0.005)
    assert cm.worse("ruac object ρ, dsb", 0.1, 0.5, 0.005)
    assert cm.worse("ruac-hyp object ρ, dsb", 0.1, 0.5, 0.005)  # the default method's map is the model's too
    assert not cm.worse("ruac object ρ, dsb", float("nan"), 0.5, 0.005)


def test_summary_and_report_name_the_worse_numbers():
    boxes = [dict(dataset="generated/nuclei", iou_0=0.9, iou_2=0.8, iou_4=0.7, area_0=1.0, area_2=1.1, area_4=1.2),
             dict(dataset="generated/cells", iou_0=0.7, iou_2=0.6, iou_4=0.5, area_0=1.0, area_2=1.3, area_4=1.4)]
    reference = cm.summary({"boxes": boxes, "uncertainty": {"dsb": {"ruac": {"object_rho": 0.4}, "sam2": {"object_rho": 0.2}}}})
    assert abs(reference["box +2 px mIoU, generated"] - 0.7) < 1e-9
    assert abs(reference["box +2 px median area ratio, generated"] - 1.2) < 1e-9
    assert reference["ruac object ρ, dsb"] == 0.4
    candidate = dict(reference, **{"box +2 px mIoU, generated": 0.75, "ruac object ρ, dsb": 0.3, "sam2 object ρ, dsb": 0.0})
    text = cm.report(["shipped", "new"], [reference, candidate], 0.005, ["# t"])
    verdict = text.strip().splitlines()[-1]
    assert "ruac object ρ, dsb" in verdict and "box +2 px mIoU" not in verdict and "sam2" not in verdict
    same = cm.report(["shipped", "same"], [reference, reference], 0.005, [])
    assert "nowhere worse" in same
