"""Ship a trained micro model inside the package: ``src/napari_ruac/weights/ruac-micro.{safetensors,json}``.

    python scripts/ship_micro.py runs/micro_ruac [--out STEM]

Reads a run folder's best checkpoint (or any checkpoint/export ``load_model`` reads), stores
every floating tensor as float16 (half the file; ``load_model`` copies the values into the
float32 parameters) and checks that the reloaded model's logits match the float32 model's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "src" / "napari_ruac" / "weights" / "ruac-micro"
MAX_BYTES = 25 * 1024 * 1024


def source_checkpoint(path: Path) -> Path:
    """A run folder → its best (else latest) checkpoint; anything else as given."""
    if (path / "checkpoints").is_dir():
        from ruac_training.export import checkpoint_for

        return checkpoint_for(path, "best")
    return path


def half_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict with floating tensors as float16 (integers and bools unchanged)."""
    return {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}


@torch.no_grad()
def logits_on_scene(model, seed: int = 5) -> np.ndarray:
    """Box-prompted low-res logits of every object of one generated nuclei scene (for the round-trip check)."""
    from napari_ruac.core.boxes import tight_box
    from napari_ruac.inference import ImagePredictor
    from ruac_training.synthetic import generate_scene

    scene = generate_scene("nuclei", seed, 256)
    predictor = ImagePredictor(model, method="sam2")
    predictor.set_image(scene.image)
    outs = []
    for object_id in range(1, min(scene.count, 6) + 1):
        outs.append(predictor.predict(box=tight_box(scene.labels == object_id)).low_res_logits)
    return np.stack([np.asarray(o, np.float32) for o in outs])


def ship(source: Path, out: Path = DEFAULT_OUT, notes: dict | None = None) -> tuple[Path, Path]:
    from napari_ruac.models import load_model
    from napari_ruac.models.checkpoint import write_ruac_checkpoint

    checkpoint = source_checkpoint(source)
    model = load_model(checkpoint, device="cpu")
    model.info.name = "ruac-micro"
    config = model.config()
    config["notes"] = {**model.info.notes, **(notes or {}), "source_checkpoint": str(checkpoint),
                       "memory_weights": None, "storage": "float16",
                       # SAM2's memory modules are untrained in the micro model: volumes are tracked by box
                       # projection (docs/micro_model.md, "Volumes")
                       "volume_tracking": "projection"}
    weights, config_path = write_ruac_checkpoint(out, half_state(model), config)
    size = weights.stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"{weights} is {size / 1e6:.1f} MB, over the 25 MB budget")
    reloaded = load_model(config_path, device="cpu")
    assert all(p.dtype == torch.float32 for p in reloaded.parameters()), "reloaded parameters must be float32"
    reference, shipped = logits_on_scene(model), logits_on_scene(reloaded)
    difference = float(np.abs(reference - shipped).max())
    agreement = float(((reference > 0) == (shipped > 0)).mean())
    print(f"wrote {weights} ({size / 1e6:.2f} MB) and {config_path}")
    print(f"float16 round trip: max |Δ logit| {difference:.4f}, mask agreement {agreement:.5f}")
    if agreement < 0.999:
        raise ValueError("float16 storage changed the masks; ship float32 or a smaller model instead")
    return weights, config_path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="run folder, training checkpoint (.pt) or export (.json)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output stem (default: the package's weights folder)")
    args = parser.parse_args(argv)
    ship(Path(args.source), Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
