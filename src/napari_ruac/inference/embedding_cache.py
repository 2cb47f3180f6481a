"""An LRU cache of image-encoder outputs, keyed by image content + model + intensity mapping,
optionally backed by an on-disk cache of one image's or volume's slices (``DiskEmbeddings``).

Re-prompting an image (or returning to a slice of a stack) then runs only the decoder; with a
disk cache, so does a later session (the widget, the CLI, batch) on the same volume.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator

import numpy as np
import torch

from ..io.slice_store import SliceStore
from ..models.preprocess import check_image
from ..models.ruac_model import ImageFeatures

MEMORY_FRACTION = 0.15  # default in-memory bound: this share of the machine's RAM
DISK_LIMIT = 20 << 30  # default bound of one on-disk cache (bytes)


def default_memory_bytes(fraction: float = MEMORY_FRACTION) -> int:
    """``fraction`` of physical memory (1 GiB when the system does not say)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 1 << 30
    return int(total * fraction)


def image_digest(image: np.ndarray) -> str:
    """Content hash of an array (shape and dtype included)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(str((image.shape, image.dtype.str)).encode())
    h.update(np.ascontiguousarray(image).data)
    return h.hexdigest()


class EmbeddingCache:
    """Thread-safe LRU bounded by bytes (default: 15 % of RAM), optionally backed by ``disk``."""

    def __init__(self, max_bytes: int | None = None, disk: "DiskEmbeddings | None" = None) -> None:
        self.max_bytes = int(default_memory_bytes() if max_bytes is None else max_bytes)
        self._items: OrderedDict[str, ImageFeatures] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.disks: list[DiskEmbeddings] = [] if disk is None else [disk]

    @property
    def disk(self) -> "DiskEmbeddings | None":
        """The (first) on-disk store behind this cache."""
        return self.disks[0] if self.disks else None

    def attach_disk(self, disk: "DiskEmbeddings") -> None:
        """Back this cache with one more image's on-disk store (the widget: one per image layer)."""
        self.disks.append(disk)

    @staticmethod
    def key(model_signature: str, digest: str, value_range: tuple[float, float]) -> str:
        return f"{model_signature}|{digest}|{value_range[0]:.6g},{value_range[1]:.6g}"

    def get(self, key: str) -> ImageFeatures | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return item
        item = next((found for disk in self.disks if (found := disk.get(key)) is not None), None)
        with self._lock:
            if item is None:
                self.misses += 1
                return None
            self.hits += 1
        self._remember(key, item)
        return item

    def put(self, key: str, features: ImageFeatures) -> None:
        for disk in self.disks:
            disk.put(key, features)
        self._remember(key, features)

    def _remember(self, key: str, features: ImageFeatures) -> None:
        size = features.nbytes
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                self._bytes -= self._items.pop(key).nbytes
            self._items[key] = features
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes


FEATURE_NAMES = ("image_embed", "high_res_0", "high_res_1", "backbone_embed")


class DiskEmbeddings:
    """The slice embeddings of one image or volume on disk (a zarr store, see ``io.slice_store``).

    Keyed by the data (content hash of every slice, shape), the model (``encoder_signature``) and the
    intensity window: a store made for anything else is recomputed with a message, never reused.
    Attach it to a cache (``EmbeddingCache(disk=...)``) and every predictor using that cache reads and
    fills it; ``precompute`` encodes every slice up front (``napari-ruac embed``).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        model,
        image: np.ndarray,
        value_range: tuple[float, float],
        volume: bool,
        max_bytes: int | None = DISK_LIMIT,
        log: Callable[[str], None] | None = None,
    ) -> None:
        image = np.asarray(image)
        self.planes = [check_image(plane) for plane in (list(image) if volume else [image])]
        self.model = model
        self.value_range = (float(value_range[0]), float(value_range[1]))
        digests = [image_digest(plane) for plane in self.planes]
        self._slice_of = {EmbeddingCache.key(model.signature(), d, self.value_range): z for z, d in enumerate(digests)}
        signature = dict(
            model=model.encoder_signature(), image_size=int(model.image_size), shape=list(image.shape),
            data=hashlib.blake2b("".join(digests).encode(), digest_size=16).hexdigest(),
            window=[round(v, 6) for v in self.value_range],
        )  # fmt: skip
        self.store = SliceStore(path, signature, len(self.planes), max_bytes, log)
        self.reads = 0

    def slice_of(self, key: str) -> int | None:
        return self._slice_of.get(key)

    def get(self, key: str) -> ImageFeatures | None:
        z = self._slice_of.get(key)
        arrays = None if z is None else self.store.read(z)
        if arrays is None:
            return None
        self.reads += 1
        device = self.model.device
        tensor = lambda name: torch.from_numpy(arrays[name][None]).to(device)  # noqa: E731
        raw = tensor("backbone_embed") if "backbone_embed" in arrays else None
        return ImageFeatures(tensor("image_embed"), [tensor("high_res_0"), tensor("high_res_1")], raw)

    def put(self, key: str, features: ImageFeatures) -> None:
        z = self._slice_of.get(key)
        if z is None or self.store.has(z):
            return
        arrays = {"image_embed": features.image_embed, "high_res_0": features.high_res[0], "high_res_1": features.high_res[1]}
        if features.backbone_embed is not None:
            arrays["backbone_embed"] = features.backbone_embed
        self.store.write(z, {k: v[0].detach().to("cpu").numpy() for k, v in arrays.items()})

    @property
    def complete(self) -> bool:
        return len(self.store.done) == len(self.planes)

    def precompute(self) -> Iterator[tuple[int, int]]:
        """Encode every slice not yet on disk; yields (done, total). Stop iterating to cancel."""
        from ..core.intensity import to_unit_rgb
        from ..models.preprocess import to_model_input

        total = len(self.planes)
        for z, plane in enumerate(self.planes):
            if not self.store.has(z):
                with torch.no_grad():
                    model_input = to_model_input(to_unit_rgb(plane, self.value_range), self.model.image_size, self.model.device)
                    features = self.model.encode_image(model_input)
                key = next(k for k, index in self._slice_of.items() if index == z)
                self.put(key, features)
            yield z + 1, total


def disk_cache(
    folder: str | os.PathLike,
    name: str,
    model,
    image: np.ndarray,
    intensity,
    volume: bool,
    log: Callable[[str], None] | None = None,
    max_bytes: int | None = DISK_LIMIT,
) -> EmbeddingCache:
    """An ``EmbeddingCache`` backed by ``folder/<name>.zarr`` for this image and the predictors' intensity
    setting (the window is computed the way the predictors compute it)."""
    from ..core.intensity import Intensity

    value_range = Intensity.parse(intensity).value_range(np.asarray(image))
    store = os.path.join(os.fspath(folder), f"{name}.zarr")
    return EmbeddingCache(disk=DiskEmbeddings(store, model, image, value_range, volume=volume, log=log, max_bytes=max_bytes))
