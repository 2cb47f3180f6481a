"""A zarr store of per-slice arrays on disk (the embedding cache's files), safe against crashes.

``SliceStore(path, signature, slices)`` opens or creates ``path`` (a ``.zarr`` folder). Its
``signature`` (a JSON dict: what the arrays were computed from) is checked on open: a store made
for something else is emptied and rebuilt, with a message, never reused. Each slice's arrays are
one chunk per array; a slice counts only once its marker file ``done/<z>`` exists, which is
written after its chunks, so a crash mid-write leaves a slice that is recomputed, never trusted.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

FORMAT = 1


class SliceStore:
    """Per-slice named arrays in a zarr group, bounded by ``max_bytes``."""

    def __init__(
        self,
        path: str | os.PathLike,
        signature: dict,
        slices: int,
        max_bytes: int | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        import zarr

        self.path = Path(path)
        self.signature = json.loads(json.dumps({"format": FORMAT, **signature}))
        self.slices = int(slices)
        self.max_bytes = max_bytes
        self.log = log or (lambda message: None)
        self._full_reported = False
        group = None
        if (self.path / "zarr.json").is_file():
            try:
                group = zarr.open_group(self.path, mode="r+")
                stored = group.attrs.asdict().get("signature")
            except Exception:  # unreadable metadata: rebuild
                stored = {"unreadable": True}
            if stored != self.signature:
                changed = sorted(k for k in set(stored or {}) | set(self.signature) if (stored or {}).get(k) != self.signature.get(k))
                self.log(f"embedding cache {self.path} was computed for another {', '.join(changed)}: recomputing it.")
                shutil.rmtree(self.path)
                group = None
        elif self.path.exists():
            raise ValueError(f"{self.path} exists but is not an embedding cache; give a cache folder of its own.")
        if group is None:
            group = zarr.open_group(self.path, mode="w")
            group.attrs["signature"] = self.signature
        self.group = group
        (self.path / "done").mkdir(exist_ok=True)

    def _names(self) -> list[str]:
        return list(self.group.attrs.get("arrays", []))  # listed, not scanned: zarr would warn about done/

    def _marker(self, z: int) -> Path:
        return self.path / "done" / str(int(z))

    def has(self, z: int) -> bool:
        return self._marker(z).is_file()

    @property
    def done(self) -> list[int]:
        return sorted(int(p.name) for p in (self.path / "done").iterdir() if p.name.isdigit())

    def read(self, z: int) -> dict[str, np.ndarray] | None:
        """The arrays of slice ``z``, or None when it was never finished."""
        if not self.has(z):
            return None
        try:
            return {name: np.asarray(self.group[name][int(z)]) for name in self._names()}
        except Exception:  # a damaged chunk: forget the slice, it is recomputed
            self._marker(z).unlink(missing_ok=True)
            return None

    def write(self, z: int, arrays: dict[str, np.ndarray]) -> bool:
        """Store slice ``z`` (chunks first, then its marker); False when the size bound forbids it."""
        size = sum(int(np.asarray(a).nbytes) for a in arrays.values())
        if self.max_bytes is not None and self.nbytes + size > self.max_bytes:
            if not self._full_reported:
                self.log(f"embedding cache {self.path} reached its size limit ({self.max_bytes / 1e9:.1f} GB); "
                         "further slices are not stored.")  # fmt: skip
                self._full_reported = True
            return False
        self._marker(z).unlink(missing_ok=True)
        for name, value in arrays.items():
            value = np.asarray(value)
            if name not in self._names():
                self.group.create_array(
                    name, shape=(self.slices, *value.shape), chunks=(1, *value.shape), dtype=value.dtype,
                    compressors=None, fill_value=0,
                )  # fmt: skip
                self.group.attrs["arrays"] = [*self._names(), name]
            self.group[name][int(z)] = value
        with open(self._marker(z), "w") as handle:
            handle.flush()
            os.fsync(handle.fileno())
        return True

    @property
    def nbytes(self) -> int:
        """Bytes of the finished slices' chunks."""
        arrays = [self.group[name] for name in self._names()]
        per_slice = sum(int(np.prod(a.shape[1:])) * a.dtype.itemsize for a in arrays)
        return per_slice * len(self.done)
