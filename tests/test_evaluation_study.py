"""The study's tables (evaluation/study.py) on hand-made rows, and the docs block it rewrites."""

from __future__ import annotations

import pytest

from napari_ruac.evaluation.study import BEGIN, END, dataset_table, replace_generated_block


def _rows():
    rows, image_rows = [], []
    ious = [0.9, 0.8, 0.95, 0.1]
    for method, scores, interior in (("ruac", [0.1, 0.2, 0.3, 0.4], [0.8, 0.9, 0.7, 0.6]),
                                     ("sam2", [0.4, 0.3, 0.2, 0.1], [0.7, 0.8, 0.6, 0.5])):  # fmt: skip
        for i, (score, iou, auc) in enumerate(zip(scores, ious, interior)):
            image = "A" if i < 2 else "B"
            rows.append({"dataset": "d", "image": image, "object": f"o{i}", "method": method, "object_score": str(score),
                         "iou": str(iou), "interior_auroc": str(auc), "auroc": "0.9", "seconds": "0.1"})  # fmt: skip
    coverage = {("ruac", "A"): "0.5", ("ruac", "B"): "1", ("sam2", "A"): "0.25", ("sam2", "B"): "nan"}
    for (method, image), value in coverage.items():
        image_rows.append({"dataset": "d", "image": image, "object": "*", "method": method,
                           "coverage_top1": value, "coverage_top3": value, "coverage_top10": value})  # fmt: skip
    return rows, image_rows


def test_dataset_table_counted_by_hand():
    rows, image_rows = _rows()
    text, numbers = dataset_table(rows, image_rows, ["ruac", "sam2"])
    ruac, sam2 = numbers["ruac"], numbers["sam2"]
    assert ruac["interior_auroc"] == pytest.approx(0.75) and sam2["interior_auroc"] == pytest.approx(0.65)
    # 1 - IoU = 0.1, 0.2, 0.05, 0.9: ruac's scores rank them 1, 2, 3, 4 against 2, 3, 1, 4 -> ρ = 0.4;
    # sam2's reversed scores give Σd² = 14 -> ρ = -0.4. The one failed object (IoU 0.1) has ruac's top score.
    assert ruac["object_rho"] == pytest.approx(0.4) and sam2["object_rho"] == pytest.approx(-0.4)
    assert ruac["failed_auroc"] == pytest.approx(1.0) and sam2["failed_auroc"] == pytest.approx(0.0)
    assert ruac["coverage_top10"] == pytest.approx(0.75) and sam2["coverage_top10"] == pytest.approx(0.25)  # nan image left out
    assert ruac["iou"] == pytest.approx(0.6875) and ruac["seconds"] == pytest.approx(0.1)
    delta, low, high = sam2["rho_difference"]
    assert delta == pytest.approx(-0.8) and low <= delta <= high
    assert "| ruac | 0.750 | 0.900 | 0.400 | 1.000 |" in text
    assert "p interior_auroc" in text and "(n=4)" in text  # sam2 vs ruac paired over the 4 objects


def test_generated_block_is_replaced_and_the_rest_kept(tmp_path):
    document = tmp_path / "study.md"
    document.write_text("# Study\n\nintro\n")
    replace_generated_block(document, "table one")
    assert document.read_text() == f"# Study\n\nintro\n\n{BEGIN}\ntable one\n{END}\n"
    document.write_text(document.read_text() + "\n## History\nkept\n")
    replace_generated_block(document, "table two")
    text = document.read_text()
    assert "table two" in text and "table one" not in text and text.endswith("## History\nkept\n")
    assert text.count(BEGIN) == 1 and text.count(END) == 1
