"""Render docs/screenshot_objects.png: the napari window after "Segment all" on the 2D nuclei sample
with ruac-micro, and the review dock in Objects mode, jumped to the most uncertain object.

Run under a virtual display: ``xvfb-run -a .venv/bin/python docs/make_screenshot_objects.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "screenshot_objects.png"


def main() -> None:
    import napari_ruac  # noqa: F401  torch before napari's OpenGL canvas (see tests/test_napari_io.py)
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_ruac.models import load_model

    viewer = napari.Viewer(title="napari-ruac: segment all, review objects")
    viewer.window._qt_window.resize(1680, 1020)
    viewer.open_sample("napari-ruac", "nuclei_image")
    _, segment = viewer.window.add_plugin_dock_widget("napari-ruac", "Segment with uncertainty")
    _, review = viewer.window.add_plugin_dock_widget("napari-ruac", "Review uncertain regions", tabify=False)
    app = QApplication.instance()
    segment.set_model(load_model("ruac-micro"))
    segment.everything.segment_all()
    start = time.time()
    while segment.running and time.time() - start < 600:
        app.processEvents()
        time.sleep(0.02)
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
    for _ in range(20):
        app.processEvents()
        time.sleep(0.05)
    viewer.screenshot(str(OUTPUT), canvas_only=False)
    print(f"wrote {OUTPUT}")
    viewer.close()


if __name__ == "__main__":
    main()
