"""Undo / redo in the segment dock (Ctrl+Z / Ctrl+Shift+Z): clicks and boxes, commits and clears.

A step holds one image's state just before a change: its clicks (with their object/background
labels) and boxes, and — for commits and clears — its preview, masks and uncertainty. Prompt
edits are recorded from the prompt layers' data events; commits and clears wrap their change
in ``action``. Undo restores a step and keeps the present for redo; a new change drops redo.
At most ``MAX_STEPS`` steps are kept.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

MAX_STEPS = 50


@dataclass
class Step:
    """An image's prompts (always) and result layers (for commits and clears) at one moment."""

    image_id: object
    points: np.ndarray
    labels: np.ndarray
    boxes: list[np.ndarray]
    box_types: list[str]
    results: dict[str, np.ndarray] | None = None  # preview, masks, uncertainty, committed
    what: str = "prompt"


class History:
    """The undo and redo stacks of one segment widget."""

    def __init__(self, widget) -> None:
        self.widget = widget
        self.undo_steps: list[Step] = []
        self.redo_steps: list[Step] = []
        self._before: dict[object, Step] = {}  # each image's prompts as last recorded
        self._quiet = 0

    # ---- recording -----------------------------------------------------------------------
    def watch(self, image_layer, prompts) -> None:
        """Record every later edit of ``prompts`` (the image's clicks and boxes layers)."""
        self._before[image_layer.unique_id] = self._capture(image_layer, prompts, results=None)

        def changed(event=None, layer=image_layer, layers=prompts):
            if self._quiet or getattr(event, "action", "changed") in ("adding", "removing", "changing"):
                return  # napari announces a change before it happens; record it once, after
            self._push(self._before[layer.unique_id])
            self._before[layer.unique_id] = self._capture(layer, layers, results=None)

        prompts.points.events.data.connect(changed)
        prompts.shapes.events.data.connect(changed)

    @contextlib.contextmanager
    def action(self, image_layer, what: str):
        """Around a commit or clear: one step with the results, none for the prompt edits inside it."""
        prompts = self.widget.prompt_layers_for(image_layer)
        step = self._capture(image_layer, prompts, results=self.widget.results_for(image_layer), what=what)
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1
        self._push(step)
        self._before[image_layer.unique_id] = self._capture(image_layer, prompts, results=None)

    def _push(self, step: Step) -> None:
        self.undo_steps.append(step)
        del self.undo_steps[:-MAX_STEPS]
        self.redo_steps.clear()

    # ---- undo / redo ---------------------------------------------------------------------
    def undo(self) -> str | None:
        """Go back one step; returns what was undone (None when there is nothing)."""
        return self._move(self.undo_steps, self.redo_steps)

    def redo(self) -> str | None:
        return self._move(self.redo_steps, self.undo_steps)

    def _move(self, source: list[Step], target: list[Step]) -> str | None:
        while source:
            step = source.pop()
            layer = self._image(step.image_id)
            if layer is None:
                continue  # its image was closed
            prompts = self.widget.prompt_layers_for(layer)
            results = self.widget.results_for(layer) if step.results is not None else None
            target.append(self._capture(layer, prompts, results=results, what=step.what))
            self._restore(step, prompts, results)
            self._before[layer.unique_id] = self._capture(layer, prompts, results=None)
            return step.what
        return None

    def _image(self, image_id):
        for layer in self.widget.viewer.layers:
            if layer.unique_id == image_id:
                return layer
        return None

    # ---- state ---------------------------------------------------------------------------
    @staticmethod
    def _capture(image_layer, prompts, results=None, what: str = "prompt") -> Step:
        points = np.array(prompts.points.data, copy=True)
        labels = prompts.points.features["label"].to_numpy().copy() if len(points) else np.empty(0, int)
        saved = None
        if results is not None:
            saved = {
                "preview": np.array(results.preview.data, copy=True),
                "masks": np.array(results.masks.data, copy=True),
                "uncertainty": np.array(results.uncertainty.data, copy=True),
                "committed": results.committed_uncertainty.copy(),
                "preview_uncertainty": results.preview_uncertainty.copy(),
                "preview_probability": results.preview_probability.copy(),
            }
        boxes = [np.array(b, copy=True) for b in prompts.shapes.data]
        return Step(image_layer.unique_id, points, labels, boxes, list(prompts.shapes.shape_type), saved, what)

    def _restore(self, step: Step, prompts, results) -> None:
        self._quiet += 1
        try:
            points = prompts.points
            defaults = points.feature_defaults.copy()
            points.data = step.points
            points.features = {"label": step.labels}
            points.feature_defaults = defaults
            points.refresh_colors()
            shapes = prompts.shapes
            if len(shapes.data):
                shapes.selected_data = set(range(len(shapes.data)))
                shapes.remove_selected()
            if step.boxes:
                shapes.add(step.boxes, shape_type=step.box_types)
            if results is not None and step.results is not None:
                saved = step.results
                results.preview.data[...] = saved["preview"]
                results.masks.data[...] = saved["masks"]
                results.uncertainty.data[...] = saved["uncertainty"]
                results.committed_uncertainty[...] = saved["committed"]
                results.preview_uncertainty[...] = saved["preview_uncertainty"]
                results.preview_probability[...] = saved["preview_probability"]
                for layer in (results.preview, results.masks, results.uncertainty):
                    layer.refresh()
                results.match_preview_colour()
        finally:
            self._quiet -= 1
