"""An LRU cache of image-encoder outputs, keyed by image content + model + intensity mapping.

Re-prompting an image (or returning to a slice of a stack) then runs only the decoder.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

from ..models.ruac_model import ImageFeatures


def image_digest(image: np.ndarray) -> str:
    """Content hash of an array (shape and dtype included)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(str((image.shape, image.dtype.str)).encode())
    h.update(np.ascontiguousarray(image).data)
    return h.hexdigest()


class EmbeddingCache:
    """Thread-safe LRU bounded by bytes (default 1 GiB)."""

    def __init__(self, max_bytes: int = 1 << 30) -> None:
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[str, ImageFeatures] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(model_signature: str, digest: str, value_range: tuple[float, float]) -> str:
        return f"{model_signature}|{digest}|{value_range[0]:.6g},{value_range[1]:.6g}"

    def get(self, key: str) -> ImageFeatures | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item

    def put(self, key: str, features: ImageFeatures) -> None:
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
