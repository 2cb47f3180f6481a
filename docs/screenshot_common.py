"""What the screenshot scripts share: a sized napari window, waiting for a dock's job, settling and saving."""

from __future__ import annotations

import time


def new_viewer(title: str, size: tuple[int, int] = (1680, 1020)):
    """(viewer, QApplication) — napari_ruac (torch) is imported before napari's OpenGL canvas
    (see tests/test_napari_io.py)."""
    import napari_ruac  # noqa: F401
    import napari
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(title=title)
    viewer.window._qt_window.resize(*size)
    return viewer, QApplication.instance()


def wait_for(widget, app, timeout: float = 600.0) -> None:
    """Process events until the dock's running job ends (or ``timeout`` seconds)."""
    start = time.time()
    while widget.running and time.time() - start < timeout:
        app.processEvents()
        time.sleep(0.02)
    app.processEvents()


def save_screenshot(viewer, app, output) -> None:
    """Let the canvas settle, write the whole window to ``output`` and close the viewer."""
    for _ in range(20):
        app.processEvents()
        time.sleep(0.05)
    viewer.screenshot(str(output), canvas_only=False)
    print(f"wrote {output}")
    viewer.close()
