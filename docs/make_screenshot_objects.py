"""Render docs/screenshot_objects.png: the napari window after "Segment all" on the 2D nuclei sample
with ruac-micro, and the review dock in Objects mode, jumped to the most uncertain object.

Run under a virtual display: ``xvfb-run -a .venv/bin/python docs/make_screenshot_objects.py``.
"""

from __future__ import annotations

from pathlib import Path

from screenshot_common import new_viewer, save_screenshot, wait_for  # docs/: the scripts' folder is on sys.path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "screenshot_objects.png"


def main() -> None:
    from napari_ruac.models import load_model

    viewer, app = new_viewer("napari-ruac: segment all, review objects")
    viewer.open_sample("napari-ruac", "nuclei_image")
    _, segment = viewer.window.add_plugin_dock_widget("napari-ruac", "Segment with uncertainty")
    _, review = viewer.window.add_plugin_dock_widget("napari-ruac", "Review uncertain regions", tabify=False)
    segment.set_model(load_model("ruac-micro"))
    segment.everything.segment_all()
    wait_for(segment, app)
    image = segment.image_layer.name
    for name in (f"{image} ground truth",):
        if name in viewer.layers:
            viewer.layers[name].visible = False
    review.mode.setCurrentText("Objects")
    review.objects.labels_combo.setCurrentText(f"{image} objects")
    review.objects.list_objects()
    review.objects.next()  # the most uncertain object: centred and zoomed
    review.objects.accept()
    review.objects.next()
    save_screenshot(viewer, app, OUTPUT)


if __name__ == "__main__":
    main()
