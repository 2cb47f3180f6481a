"""Small models for tests: the real SAM2.1-tiny architecture at 256 px with random weights,
and the same model with its decoder fitted for a few seconds on generated blobs so that
its logits mean something (confident interiors, uncertain boundaries; METHOD.md §4)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from napari_ruac import load_model
from napari_ruac.core.boxes import tight_box
from napari_ruac.core.intensity import to_unit_rgb
from napari_ruac.models.preprocess import to_model_input

IMAGE_SIZE = 256


def blob_scene(seed: int = 0, size: int = 192, count: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """A grey image with ``count`` bright blurred discs on a noisy background, and its labels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    labels = np.zeros((size, size), np.int32)
    for i in range(1, count + 1):
        for _ in range(50):
            r = rng.uniform(size * 0.07, size * 0.14)
            cy, cx = rng.uniform(r + 2, size - r - 2, 2)
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
            if not (labels[ndimage.binary_dilation(disc, iterations=3)] > 0).any():
                labels[disc] = i
                break
    image = 0.15 + 0.6 * (labels > 0) * rng.uniform(0.7, 1.0)
    image = ndimage.gaussian_filter(image, 1.5) + rng.normal(0, 0.04, image.shape)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8), labels


def random_model(seed: int = 0):
    torch.manual_seed(seed)
    return load_model("sam2.1_hiera_tiny", device="cpu", pretrained=False, image_size=IMAGE_SIZE)


def fitted_model(steps: int = 30, seed: int = 0):
    """SAM2.1-tiny (random encoder) whose mask decoder learnt box → blob on generated scenes."""
    model = random_model(seed)
    # one object per scene: "segment the bright blob in the box" is learnable in seconds
    scenes = [blob_scene(seed=s, count=1) for s in range(8)]
    inputs, targets, boxes = [], [], []
    for image, labels in scenes:
        x = to_model_input(to_unit_rgb(image[..., None], (0.0, 255.0)), IMAGE_SIZE)
        with torch.no_grad():
            features = model.encode_image(x)
        scale = IMAGE_SIZE / image.shape[0]
        for i in range(1, labels.max() + 1):
            mask = labels == i
            inputs.append(features)
            boxes.append(torch.tensor(tight_box(mask)) * scale)
            low = torch.from_numpy(mask.astype(np.float32))[None, None]
            targets.append(F.interpolate(low, size=(IMAGE_SIZE // 4,) * 2, mode="area")[0, 0])
    decoder = model.sam2.sam_mask_decoder
    params = [p for n, p in decoder.named_parameters() if not n.startswith("transformer")]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        index = torch.randint(len(inputs), (4,), generator=generator)
        loss = 0.0
        for j in index.tolist():
            sparse, dense = model.encode_prompts(boxes=boxes[j][None])
            _, selected = model.decode(inputs[j], sparse, dense, multimask=False)
            logit, target = selected.logit[0], targets[j]
            probability = torch.sigmoid(logit)
            dice = 1 - (2 * (probability * target).sum() + 1) / (probability.sum() + target.sum() + 1)
            loss = loss + F.binary_cross_entropy_with_logits(logit, target) + dice
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
