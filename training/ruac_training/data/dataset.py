"""The training dataset: a raw sample → fixed-size tensors the trainer batches.

Per item: pick up to ``max_objects`` objects, random flips, resize to the model's square
(the image bilinear + antialiased like the predictors, masks nearest), ImageNet-normalise.
Randomness comes from a numpy Generator seeded by (seed, epoch, index): the same item gives
the same tensors in any worker, with any number of workers, and after a resume.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from napari_ruac.models.preprocess import to_model_input

from .sources import Source


class ObjectDataset(Dataset):
    """Items ``(source, item)`` of several sources, returned as model-ready tensors."""

    def __init__(
        self,
        sources: list[Source],
        items: list[tuple[int, int]],
        image_size: int,
        max_objects: int = 4,
        flip_horizontal: float = 0.5,
        flip_vertical: float = 0.0,
        seed: int = 0,
        augment: bool = True,
    ) -> None:
        self.sources = sources
        self.items = items
        self.image_size = int(image_size)
        self.max_objects = int(max_objects)
        self.flip_horizontal = float(flip_horizontal)
        self.flip_vertical = float(flip_vertical)
        self.seed = int(seed)
        self.augment = augment
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Augmentations differ per epoch; call before building the epoch's loader iterator."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.items)

    def name(self, index: int) -> str:
        source, item = self.items[index]
        return self.sources[source].name(item)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        source, item = self.items[index]
        sample = self.sources[source].load(item)
        epoch = self.epoch if self.augment else 0
        rng = np.random.default_rng([self.seed, epoch, int(index)])
        objects = sample.objects
        if len(objects) > self.max_objects:
            keep = np.sort(rng.choice(len(objects), self.max_objects, replace=False))
            objects = objects[keep]
        image = sample.image
        if self.augment and rng.random() < self.flip_horizontal:
            image, objects = image[:, ::-1], objects[:, :, ::-1]
        if self.augment and rng.random() < self.flip_vertical:
            image, objects = image[::-1], objects[:, ::-1]
        return to_tensors(image, objects, self.image_size, self.max_objects, index)


def to_tensors(image: np.ndarray, objects: np.ndarray, size: int, max_objects: int, index: int = 0) -> dict:
    """H×W×3 [0, 1] image + K×H×W masks → normalised (3, S, S), masks (N, S, S) uint8, valid (N,)."""
    x = to_model_input(np.ascontiguousarray(image, dtype=np.float32), size)[0]  # exactly what the predictors do
    masks = torch.zeros(max_objects, size, size, dtype=torch.uint8)
    valid = torch.zeros(max_objects, dtype=torch.bool)
    if len(objects):
        m = torch.from_numpy(np.ascontiguousarray(objects, dtype=np.uint8))[None].float()
        # Pixel-centre aligned like the image (bilinear, antialiased, then ≥ half covered). Plain "nearest"
        # reads source pixel floor(i·scale): targets sat half a model pixel right of and below the image.
        m = F.interpolate(m, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        m = (m[0] >= 0.5).to(torch.uint8)
        count = min(len(m), max_objects)
        masks[:count] = m[:count]
        valid[:count] = masks[:count].flatten(1).any(dim=1)
    return {"image": x, "masks": masks, "valid": valid, "index": torch.tensor(index)}
