"""Pixel spacing and its unit from a TIFF: OME PhysicalSize, ImageJ spacing/unit, resolution tags.

Sources in order of trust: OME-XML, then ImageJ metadata (x/y from the resolution tags, z from
``spacing``), then tifffile's own JSON description, then bare resolution tags (inch/cm → µm).
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

MICROMETRES_PER = {"pm": 1e-6, "Å": 1e-4, "nm": 1e-3, "µm": 1.0, "mm": 1e3, "cm": 1e4, "m": 1e6}
UNIT_ALIASES = {
    "micron": "µm", "microns": "µm", "um": "µm", "\\u00b5m": "µm", "μm": "µm", "µm": "µm",
    "nm": "nm", "mm": "mm", "cm": "cm", "m": "m", "meter": "m", "angstrom": "Å", "å": "Å", "pm": "pm",
}  # fmt: skip
RESOLUTION_UNIT_MICROMETRES = {2: 25400.0, 3: 1e4, 4: 1e3, 5: 1.0}  # INCH, CENTIMETER, MILLIMETER, MICROMETER


def normalise_unit(unit) -> str | None:
    """'micron', 'um', '\\u00B5m' … → 'µm'; None for missing or pixel units."""
    if unit is None:
        return None
    text = str(unit).strip()
    if not text or text.lower() in ("pixel", "pixels", "px", "none"):
        return None
    return UNIT_ALIASES.get(text.lower(), text)


def imagej_unit(unit: str | None) -> str | None:
    """The unit name Fiji understands in an ImageJ description (ASCII only)."""
    if unit is None:
        return None
    return "micron" if unit == "µm" else unit.encode("ascii", "replace").decode()


def resolution_spacing(page, unit_hint: str | None = None) -> tuple[float, float, str | None]:
    """(y, x) pixel size from the XResolution/YResolution tags (pixels per unit) and the unit."""
    try:
        x_resolution, y_resolution = page.resolution
        unit_code = int(page.resolutionunit)
    except (AttributeError, TypeError, ValueError):
        return 1.0, 1.0, unit_hint
    if not (x_resolution > 0 and y_resolution > 0):
        return 1.0, 1.0, unit_hint
    if unit_hint is not None or unit_code not in RESOLUTION_UNIT_MICROMETRES:
        return 1.0 / y_resolution, 1.0 / x_resolution, unit_hint
    per_unit = RESOLUTION_UNIT_MICROMETRES[unit_code]
    return per_unit / y_resolution, per_unit / x_resolution, "µm"


def ome_spacing(ome_xml: str) -> tuple[dict[str, float], str | None]:
    """PhysicalSizeX/Y/Z of the first image in OME-XML, converted to one unit."""
    root = ElementTree.fromstring(ome_xml)
    is_pixels = (element for element in root.iter() if element.tag.rsplit("}", 1)[-1] == "Pixels")
    pixels = next(is_pixels, None)
    if pixels is None:
        return {}, None
    values: dict[str, float] = {}
    units: dict[str, str | None] = {}
    for letter in "XYZ":
        size = pixels.get(f"PhysicalSize{letter}")
        if size is None:
            continue
        values[letter] = float(size)
        units[letter] = normalise_unit(pixels.get(f"PhysicalSize{letter}Unit", "µm"))
    distinct = set(units.values())
    if len(distinct) <= 1:
        return values, (distinct.pop() if distinct else None)
    if all(unit in MICROMETRES_PER for unit in distinct):
        return {k: v * MICROMETRES_PER[units[k]] for k, v in values.items()}, "µm"
    return values, units.get("X")


def read_spacing(tif) -> tuple[dict[str, float], str | None, str]:
    """Spacing per axis letter (X, Y, Z), its unit, and the TIFF flavour ('ome', 'imagej', 'plain')."""
    page = tif.pages.first if hasattr(tif.pages, "first") else tif.pages[0]
    if tif.is_ome and tif.ome_metadata:
        values, unit = ome_spacing(tif.ome_metadata)
        if not {"X", "Y"} <= values.keys():
            y, x, res_unit = resolution_spacing(page)
            values = {"X": x, "Y": y, **values}
            unit = unit or res_unit
        return values, unit, "ome"
    if tif.is_imagej and tif.imagej_metadata is not None:
        meta = tif.imagej_metadata
        unit = normalise_unit(meta.get("unit"))
        y, x, unit = resolution_spacing(page, unit)
        return {"X": x, "Y": y, "Z": float(meta.get("spacing", 1.0))}, unit, "imagej"
    shaped = tif.shaped_metadata[0] if tif.is_shaped and tif.shaped_metadata else {}
    unit = normalise_unit(shaped.get("unit")) if isinstance(shaped, dict) else None
    y, x, res_unit = resolution_spacing(page)
    values = {"X": x, "Y": y}
    if isinstance(shaped, dict) and "spacing" in shaped:
        values["Z"] = float(shaped["spacing"])
        if unit is not None and res_unit == "µm" and unit in MICROMETRES_PER:
            values["Z"] *= MICROMETRES_PER[unit]
    return values, res_unit or unit, "plain"
