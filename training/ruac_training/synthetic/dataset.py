"""Indexable synthetic datasets (each index seeds its own scene) and writing them as image/mask folders."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from .scenes import KINDS, Scene, generate_scene


def _kind_weights(kinds) -> tuple[tuple[str, ...], np.ndarray]:
    if isinstance(kinds, str):
        kinds = (kinds,)
    if isinstance(kinds, Mapping):
        names, weights = tuple(kinds), np.array([float(w) for w in kinds.values()])
    else:
        names, weights = tuple(kinds), np.ones(len(tuple(kinds)))
    unknown = [k for k in names if k not in KINDS]
    if not names or unknown or np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError(f"kinds must name some of {', '.join(KINDS)} (optionally as {{kind: weight}}), got {kinds!r}")
    return names, weights / weights.sum()


class SyntheticDataset(Sequence):
    """``n`` scenes; scene ``i`` depends only on (seed, i), so DataLoader workers need no shared RNG.

    ``kinds``: names or {name: weight}; ``size``: int or (height, width); ``size_range``:
    (low, high) to draw each scene's height and width from instead (aspect ≤ 1.5).
    """

    def __init__(self, n: int, seed: int = 0, kinds=KINDS, size=256, shifted: bool = False,
                 size_range: tuple[int, int] | None = None):
        if int(n) < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        self.n, self.seed, self.size, self.shifted = int(n), int(seed), size, bool(shifted)
        self.kinds, self.weights = _kind_weights(kinds)
        if size_range is not None and not (64 <= size_range[0] <= size_range[1]):
            raise ValueError(f"size_range must be (low, high) with 64 <= low <= high, got {size_range!r}")
        self.size_range = size_range

    def __len__(self) -> int:
        return self.n

    def plan(self, index: int) -> tuple[str, int, tuple[int, int] | int]:
        """(kind, scene seed, size) of scene ``index``, without rendering it."""
        if not -self.n <= index < self.n:
            raise IndexError(f"index {index} is outside a dataset of {self.n} scenes")
        index = index % self.n
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, index]))
        kind = str(self.kinds[rng.choice(len(self.kinds), p=self.weights)])
        scene_seed = int(rng.integers(2**31 - 1))
        size = self.size
        if self.size_range is not None:
            height = int(rng.integers(self.size_range[0], self.size_range[1] + 1))
            width = int(np.clip(height * np.exp(rng.uniform(-0.4, 0.4)), *self.size_range))
            size = (height, width)
        return kind, scene_seed, size

    def __getitem__(self, index) -> Scene:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.n))]
        kind, scene_seed, size = self.plan(int(index))
        scene = generate_scene(kind, scene_seed, size, self.shifted)
        scene.params["index"] = int(index) % self.n
        return scene


def _write_png(path: Path, array: np.ndarray) -> None:
    import imageio.v3 as iio

    iio.imwrite(path, array)


def keep_objects(labels: np.ndarray, max_objects: int, seed: int, index: int) -> np.ndarray:
    """At most ``max_objects`` objects of ``labels`` (chosen at random among those over
    ``core.objects.default_min_area``, seeded by (seed, index)), relabelled 1…k; the rest become 0."""
    from napari_ruac.core.objects import default_min_area

    ids, areas = np.unique(labels[labels > 0], return_counts=True)
    eligible = ids[areas > default_min_area(labels.shape)]
    rng = np.random.default_rng([seed, index])
    keep = np.sort(rng.choice(eligible, min(max_objects, len(eligible)), replace=False)) if len(eligible) else []
    kept = np.zeros(labels.shape, np.uint16)
    for new_id, old_id in enumerate(keep, start=1):
        kept[labels == old_id] = new_id
    return kept


def iter_write_dataset(folder, n: int, seed: int = 0, kinds=KINDS, size=256, shifted: bool = False,
                       size_range=None, overwrite: bool = False, max_objects: int | None = None) -> Iterator[tuple[int, int]]:
    """Write ``images/NNNN.png`` (uint8 grey/RGB), ``masks/NNNN.png`` (uint16 label ids) and ``scenes.json``.

    ``max_objects``: score at most that many objects per image (``keep_objects``: the others stay in
    the image, only their masks are left out). A generator yielding (written, total) after each
    scene, so callers can show progress or stop.
    """
    folder = Path(folder)
    dataset = SyntheticDataset(n, seed, kinds, size, shifted, size_range)
    images, masks = folder / "images", folder / "masks"
    existing = [p for d in (images, masks) if d.is_dir() for p in d.iterdir()]
    if existing and not overwrite:
        raise FileExistsError(f"{folder} already holds {len(existing)} image/mask files; "
                              "choose an empty folder or pass overwrite=True")
    images.mkdir(parents=True, exist_ok=True)
    masks.mkdir(parents=True, exist_ok=True)
    digits = max(4, len(str(max(n - 1, 0))))
    records = []
    for index in range(len(dataset)):
        scene = dataset[index]
        if scene.labels.max() > np.iinfo(np.uint16).max:
            raise ValueError(f"scene {index} has more labels than a 16-bit PNG holds")
        stem = f"{index:0{digits}d}"
        _write_png(images / f"{stem}.png", scene.image)
        labels = scene.labels.astype(np.uint16) if max_objects is None else keep_objects(scene.labels, max_objects, seed, index)
        _write_png(masks / f"{stem}.png", labels)
        records.append(dict(file=f"{stem}.png", objects=int(len(np.unique(labels[labels > 0]))), **scene.params))
        yield index + 1, len(dataset)
    manifest = dict(n=n, seed=seed, kinds=list(dataset.kinds), weights=dataset.weights.round(6).tolist(),
                    size=size, size_range=size_range, shifted=shifted, max_objects=max_objects, scenes=records)
    (folder / "scenes.json").write_text(json.dumps(manifest, indent=1))


def write_dataset(folder, n: int, seed: int = 0, kinds=KINDS, size=256, shifted: bool = False,
                  size_range=None, overwrite: bool = False, progress=None, max_objects: int | None = None) -> Path:
    """Write a synthetic dataset folder (see ``iter_write_dataset``); ``progress(done, total)`` is optional."""
    for done, total in iter_write_dataset(folder, n, seed, kinds, size, shifted, size_range, overwrite, max_objects):
        if progress is not None:
            progress(done, total)
    return Path(folder)


def read_scene_files(folder, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Read back scene ``index`` of a written folder as (image, labels int32)."""
    import imageio.v3 as iio

    folder = Path(folder)
    stems = [p.stem for p in (folder / "masks").glob("*.png") if p.stem.isdigit() and int(p.stem) == index]
    if not stems:
        raise FileNotFoundError(f"no scene {index} in {folder / 'masks'}")
    image = np.asarray(iio.imread(folder / "images" / f"{stems[0]}.png"))
    labels = np.asarray(iio.imread(folder / "masks" / f"{stems[0]}.png")).astype(np.int32)
    return image, labels
