"""Render docs/screenshot_plugin.png: the napari window with both napari-ruac docks on the 3D
nuclei sample after segmenting the largest nuclei of one slice (S, then C, per nucleus) and
listing the uncertain regions.

Run under a virtual display: ``xvfb-run -a .venv/bin/python docs/make_screenshot.py``.
Uses the first model present offline (a downloaded SAM2.1 checkpoint, else the shipped
ruac-micro), else the tests' small fitted model. One slice is segmented box by box, then the
review dock ranks its uncertain regions.
"""

from __future__ import annotations

import sys
from pathlib import Path

from screenshot_common import new_viewer, save_screenshot, wait_for  # docs/: the scripts' folder is on sys.path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "screenshot_plugin.png"
NUCLEI = 6


def pick_model():
    from napari_ruac.models import available_models, load_model

    names = available_models()
    if names:
        return load_model(names[0])
    sys.path.insert(0, str(ROOT / "tests"))
    from fixture_models import fitted_model

    return fitted_model()


def draw_box(shapes, mask: np.ndarray, z: int) -> None:
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min() - 0.5, ys.max() + 0.5, xs.min() - 0.5, xs.max() + 0.5
    shapes.add_rectangles(np.array([[z, y0, x0], [z, y0, x1], [z, y1, x1], [z, y1, x0]], dtype=float))


def main() -> None:
    viewer, app = new_viewer("napari-ruac")
    viewer.open_sample("napari-ruac", "nuclei_stack")
    _, segment = viewer.window.add_plugin_dock_widget("napari-ruac", "Segment with uncertainty")
    _, review = viewer.window.add_plugin_dock_widget("napari-ruac", "Review uncertain regions", tabify=False)
    segment.set_model(pick_model())

    truth = viewer.layers["nuclei stack ground truth"].data
    z = int(np.argmax([len(np.unique(plane)) for plane in truth]))  # the slice with most nuclei
    viewer.dims.set_current_step(0, z)
    ids, sizes = np.unique(truth[z][truth[z] > 0], return_counts=True)
    prompts = segment.prompt_layers_for(segment.image_layer)
    masks = None
    for label in ids[np.argsort(sizes)[::-1][:NUCLEI]]:
        nucleus = truth[z] == label
        if masks is not None and (masks.data[z][nucleus] > 0).mean() > 0.5:
            continue  # already segmented with an earlier one (the small model takes neighbours too)
        draw_box(prompts.shapes, nucleus, z)
        segment.segment_slice()
        wait_for(segment, app)
        segment.commit()
        masks = viewer.layers["nuclei stack masks"]

    # no ground truth: only one slice is segmented, so the error proxy (uncertainty) is the fair one
    review.select_layers("nuclei stack masks", "nuclei stack uncertainty", None)
    review.set_threshold(0.2)
    review.find_regions()
    if review.regions:
        review.select_row(0)
        viewer.reset_view()  # show the whole slice, with the first region outlined
    viewer.layers["nuclei stack ground truth"].visible = False
    viewer.layers.selection.active = viewer.layers["nuclei stack masks"]
    save_screenshot(viewer, app, OUTPUT)


if __name__ == "__main__":
    main()
