"""Render docs/screenshot_suggest.png: the segment widget after one click on a generated cells
scene with ruac-micro and N pressed — the star marks the suggested corrective click (green: a
likely missed part, red: a likely leak), the status line says the keys.

The object shown is the first (scene by scene, largest first) whose suggestion lands on a real error
with the right sign: an illustration of the interaction, not a measurement (the measurement is
benchmarks/bench_interactive.py).

    xvfb-run -a .venv/bin/python docs/make_screenshot_suggest.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from screenshot_common import new_viewer, save_screenshot, wait_for  # docs/: the scripts' folder is on sys.path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "screenshot_suggest.png"


def pick_object(model, image, labels):
    """(truth, click) of the first object away from the edge whose first suggestion sits on an error with the right sign."""
    from napari_ruac.inference import ImagePredictor

    predictor = ImagePredictor(model)
    predictor.set_image(image)
    ids, areas = np.unique(labels[labels > 0], return_counts=True)
    for object_id in ids[np.argsort(-areas)]:
        truth = labels == object_id
        ys, xs = np.nonzero(truth)
        if min(ys.min(), xs.min()) < 8 or ys.max() >= truth.shape[0] - 8 or xs.max() >= truth.shape[1] - 8:
            continue  # a cut object at the image's edge makes a poor picture
        row, col = int(np.median(ys)), int(np.median(xs))
        if not truth[row, col]:
            continue
        out = predictor.predict(points=[[col + 0.5, row + 0.5]], labels=[1])
        found = predictor.suggest_click(out, points=[[col + 0.5, row + 0.5]])
        if found and out.mask.any():
            s = found[0]
            r, c = int(s.y), int(s.x)
            if out.mask[r, c] != truth[r, c] and truth[r, c] == s.positive:
                return truth, (row, col)
    return None


def main() -> None:
    sys.path.insert(0, str(ROOT / "training"))
    from ruac_training.synthetic import generate_scene

    from napari_ruac.models import load_model

    model = load_model("ruac-micro", device="cpu")
    for seed in range(880002, 880102, 10):  # held-out scenes (see benchmarks/bench_interactive.py)
        scene = generate_scene("cells", seed, 256)
        picked = pick_object(model, scene.image, scene.labels)
        if picked is not None:
            break
    else:
        raise SystemExit("no object with a correct first suggestion in these scenes")
    truth, (row, col) = picked

    viewer, app = new_viewer("napari-ruac", (1500, 950))
    viewer.add_image(scene.image, name="cells")
    _, segment = viewer.window.add_plugin_dock_widget("napari-ruac", "Segment with uncertainty")
    segment.set_model(model, source="ruac-micro")
    prompts = segment.prompt_layers_for(segment.image_layer)
    prompts.points.add([row, col])
    segment.segment_slice()
    wait_for(segment, app)
    segment.suggest_click()
    next(layer for layer in viewer.layers if layer.name.startswith("cells uncertainty")).opacity = 0.5
    ys, xs = np.nonzero(truth)
    from napari_ruac._napari.layer_geometry import camera_of

    camera_of(viewer).center = (float(ys.mean()), float(xs.mean()))
    camera_of(viewer).zoom = 2.2
    save_screenshot(viewer, app, OUTPUT)


if __name__ == "__main__":
    main()
