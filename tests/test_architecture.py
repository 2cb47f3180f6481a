"""The import rules of docs/architecture.md, read from the source (no imports executed).

Layers, from the ground up: ``core`` → ``io``, ``metrics``, ``samples``, ``proposals`` → ``models`` → ``uq`` →
``inference`` → workflows (``segmentation``, ``batch``, ``evaluation``, ``review``, ``demo``) →
``cli``, ``_napari``. A package imports only from layers below it (workflows may use each other,
without a circle); nothing outside ``_napari`` imports napari or Qt; ``ruac_training`` uses
``napari_ruac`` through public names only and ``napari_ruac`` never imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "napari_ruac"
TRAINING = ROOT / "training" / "ruac_training"

LAYERS = {
    "core": 0,
    "io": 1, "metrics": 1, "samples": 1, "proposals": 1,
    "models": 2,
    "uq": 3,
    "inference": 4,
    "segmentation": 5, "batch": 5, "evaluation": 5, "review": 5, "demo": 5, "everything": 5,
    "cli": 6, "_napari": 6,
    "__init__": 7,  # the package root re-exports the public API
}
SAME_LAYER_ALLOWED = {5}  # workflows may build on each other (checked for circles below)
GUI_MODULES = {"napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "superqt", "magicgui", "vispy"}


def _unit(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return "__init__" if parts == ("__init__.py",) else parts[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(absolute module, imported names, line) for every import in ``path`` (function-level ones too)."""
    package = ["napari_ruac", *path.relative_to(PACKAGE).parts[:-1]] if path.is_relative_to(PACKAGE) else []
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((module, [alias.name for alias in node.names], node.lineno))
    return found


def _package_edges() -> dict[tuple[str, str], str]:
    """{(importer, imported): 'file:line'} between the top-level units of napari_ruac."""
    edges = {}
    for path in PACKAGE.rglob("*.py"):
        source = _unit(path)
        for module, names, line in _imports(path):
            parts = module.split(".")
            if parts[0] != "napari_ruac":
                continue
            targets = [parts[1]] if len(parts) > 1 else [n for n in names if n in LAYERS]
            for target in targets:
                if target != source:
                    edges.setdefault((source, target), f"{path.relative_to(ROOT)}:{line}")
    return edges


def test_every_package_has_a_layer():
    units = {_unit(p) for p in PACKAGE.rglob("*.py")}
    assert units <= set(LAYERS), f"add {sorted(units - set(LAYERS))} to LAYERS and docs/architecture.md"


def test_no_upward_imports():
    upward = [
        f"{where}: {source} (layer {LAYERS[source]}) imports {target} (layer {LAYERS[target]})"
        for (source, target), where in _package_edges().items()
        if LAYERS[target] > LAYERS[source]
        or (LAYERS[target] == LAYERS[source] and LAYERS[source] not in SAME_LAYER_ALLOWED)
    ]
    assert not upward, "\n".join(upward)


def test_no_circles_between_packages():
    graph: dict[str, set[str]] = {}
    for source, target in _package_edges():
        graph.setdefault(source, set()).add(target)
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                pytest.fail("import circle: " + " → ".join(trail[trail.index(nxt):] + [nxt]) if nxt in trail else nxt)
            if not state.get(nxt):
                visit(nxt, trail + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node, [node])


def test_napari_and_qt_only_inside_the_napari_package():
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in PACKAGE.rglob("*.py")
        if _unit(path) != "_napari"
        for module, _, line in _imports(path)
        if module.split(".")[0] in GUI_MODULES
    ]
    assert not offenders, "\n".join(offenders)


def test_training_uses_public_names_and_is_never_imported_by_the_product():
    private = []
    for path in TRAINING.rglob("*.py"):
        for module, names, line in _imports(path):
            if module.split(".")[0] != "napari_ruac":
                continue
            hidden = [p for p in module.split(".") if p.startswith("_")] + [n for n in names if n.startswith("_")]
            if hidden:
                private.append(f"{path.relative_to(ROOT)}:{line} uses {module} {names}")
    assert not private, "\n".join(private)
    back = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in PACKAGE.rglob("*.py")
        for module, _, line in _imports(path)
        if module.split(".")[0] == "ruac_training"
    ]
    assert not back, "napari_ruac must not import ruac_training: " + ", ".join(back)
