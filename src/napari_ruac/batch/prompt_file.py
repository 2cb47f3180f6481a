"""Prompt files: JSON (file → prompts, or a list of prompts with ``file``) and CSV (one prompt per row).

The schema is described in ``napari_ruac.batch.prompts``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..io import ImageData
from .prompt_records import BatchPromptError, ObjectPrompts, PromptRecord, file_stem, make_record, slice_for

CSV_COLUMNS = ("file", "object", "slice", "x0", "y0", "x1", "y1", "points", "labels")


def _parse_csv_points(text: str, where: str) -> list[list[float]] | None:
    text = (text or "").strip()
    if not text:
        return None
    points = []
    for pair in text.split(";"):
        parts = pair.replace(",", " ").split()
        if len(parts) != 2:
            raise BatchPromptError(f"{where}: points must be 'x,y;x,y', got {text!r}.")
        try:
            points.append([float(parts[0]), float(parts[1])])
        except ValueError:
            raise BatchPromptError(f"{where}: points must be numbers 'x,y;x,y', got {text!r}.") from None
    return points


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in (reader.fieldnames or [])]
        if "file" not in header:
            raise BatchPromptError(f"{path}: the CSV needs a header with a 'file' column ({','.join(CSV_COLUMNS)}).")
        unknown = set(header) - set(CSV_COLUMNS)
        if unknown:
            raise BatchPromptError(f"{path}: unknown columns {sorted(unknown)}; use {','.join(CSV_COLUMNS)}.")
        raws = []
        for number, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            where = f"{path.name} line {number}"
            corners = [row.get(k, "") for k in ("x0", "y0", "x1", "y1")]
            if any(corners) and not all(corners):
                raise BatchPromptError(f"{where}: give all four of x0, y0, x1, y1 (or none).")
            labels = row.get("labels", "")
            raws.append(
                dict(
                    file=row["file"],
                    object=row.get("object") or None,
                    slice=row.get("slice") or None,
                    box=corners if all(corners) else None,
                    points=_parse_csv_points(row.get("points", ""), where),
                    labels=[int(v) for v in labels.split(";")] if labels else None,
                    _where=where,
                )
            )
        return raws


def _read_json(path: Path) -> list[dict]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise BatchPromptError(f"{path} is not valid JSON: {error}.") from None
    raws = []
    if isinstance(content, dict):
        for name, items in content.items():
            items = [items] if isinstance(items, dict) else items
            if not isinstance(items, list):
                raise BatchPromptError(f"{path}: the value for {name!r} must be a list of prompts.")
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    raise BatchPromptError(f"{path}: prompt {index} of {name!r} must be an object with box/points.")
                raws.append({**item, "file": name, "_where": f"{path.name} [{name!r}][{index}]"})
    elif isinstance(content, list):
        for index, item in enumerate(content):
            if not isinstance(item, dict) or "file" not in item:
                raise BatchPromptError(f"{path}: entry {index} must be an object with a 'file' key and box/points.")
            raws.append({**item, "_where": f"{path.name} [{index}]"})
    else:
        raise BatchPromptError(f"{path}: expected a mapping file → prompts or a list of prompts.")
    return raws


@dataclass
class PromptFile:
    """Prompts per input file from a JSON or CSV file (schema in the module docstring)."""

    path: Path
    records: dict[str, list[PromptRecord]] = field(default_factory=dict)
    digest: str = ""

    @classmethod
    def load(cls, path: str | os.PathLike) -> "PromptFile":
        path = Path(path).expanduser()
        if not path.is_file():
            raise BatchPromptError(f"prompt file {path} does not exist; check the path (or use --from-labels / --box).")
        suffix = path.suffix.lower()
        if suffix not in (".json", ".csv"):
            raise BatchPromptError(f"prompt file {path} must be .json or .csv (schema: napari-ruac batch --help).")
        raws = _read_json(path) if suffix == ".json" else _read_csv(path)
        if not raws:
            raise BatchPromptError(f"prompt file {path} holds no prompts.")
        records: dict[str, list[PromptRecord]] = {}
        seen = set()
        for raw in raws:
            where = raw.pop("_where")
            name = str(raw.get("file") or "").strip()
            if not name:
                raise BatchPromptError(f"{where}: 'file' is empty; name the input file (e.g. stack_a.tif).")
            record = make_record(raw, where)
            key = (name, record.object, record.slice)
            if key in seen:
                raise BatchPromptError(
                    f"{where}: a second prompt for {name} object {record.object} on slice {record.slice}; "
                    "merge them into one (box and points may be given together)."
                )
            seen.add(key)
            records.setdefault(name, []).append(record)
        return cls(path, records, hashlib.sha256(path.read_bytes()).hexdigest())

    def _keys_for(self, input_path: Path) -> list[str]:
        """The prompt-file keys naming this input: its file name and/or its stem."""
        return [key for key in dict.fromkeys((input_path.name, file_stem(input_path))) if key in self.records]

    def check_inputs(self, inputs: Sequence[Path]) -> None:
        """Every file the prompt file names must be one of the inputs (a misspelt name is an error)."""
        names = {p.name for p in inputs} | {file_stem(p) for p in inputs}
        unmatched = sorted(k for k in self.records if k not in names)
        if unmatched:
            shown = ", ".join(sorted(p.name for p in inputs)[:10])
            raise BatchPromptError(
                f"{self.path} names files that are not among the inputs: {', '.join(unmatched)}. "
                f"Inputs: {shown}{' …' if len(inputs) > 10 else ''}. Fix the names (file name or stem)."
            )
        stems: dict[str, list[str]] = {}
        for p in inputs:
            stems.setdefault(file_stem(p), []).append(p.name)
        for key in self.records:
            if key in stems and len(stems[key]) > 1 and key not in {p.name for p in inputs}:
                raise BatchPromptError(
                    f"{self.path}: {key!r} matches several inputs ({', '.join(stems[key])}); use the full file name."
                )

    def prompts_for(self, image: ImageData) -> ObjectPrompts:
        keys = self._keys_for(image.path)
        if not keys:
            raise BatchPromptError(f"{self.path} has no prompts for {image.path.name}; add them or remove the file.")
        objects: ObjectPrompts = {}
        for key in keys:
            for record in self.records[key]:
                where = f"{self.path.name} ({key}, object {record.object})"
                z = slice_for(record.slice, image, where)
                if z in objects.get(record.object, {}):
                    raise BatchPromptError(f"{where}: two prompts on slice {z}; merge them into one.")
                objects.setdefault(record.object, {})[z] = record.prompt()
        return objects

    def describe(self) -> dict:
        return {"source": "file", "sha256": self.digest}
