"""``ruac-train export``: a training checkpoint → the small inference checkpoint (safetensors + JSON)
that ``load_model`` and ``ImagePredictor`` read. Head, decoder and extras only when the base is an
unchanged registry model (a few MB); the whole SAM2 otherwise."""

from __future__ import annotations

from pathlib import Path

from napari_ruac.models import load_model, save_ruac_checkpoint

from . import checkpointing as ckpt
from .model_setup import PARTS


def checkpoint_for(run_dir: Path, which: str = "best") -> Path:
    """``best`` (falls back to the latest step), ``last``, or an explicit file."""
    folder = Path(run_dir) / "checkpoints"
    if which not in ("best", "last"):
        path = Path(which)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path} does not exist.")
        return path
    if which == "best" and (folder / "best.pt").is_file():
        return folder / "best.pt"
    latest = ckpt.latest_checkpoint(folder)
    if latest is None:
        raise FileNotFoundError(f"{run_dir} has no checkpoint in {folder}: is it a ruac-train run folder?")
    return latest


def export_run(
    run_dir: str | Path, out: str | Path | None = None, which: str = "best", include_sam2: bool | None = None
) -> tuple[Path, Path]:
    """Write the inference checkpoint of a run; returns (weights, config) paths.

    ``include_sam2=None`` decides: small (head + decoder + extras) when the base is a pretrained
    registry model whose encoders were frozen, all weights otherwise.
    """
    run_dir = Path(run_dir)
    source = checkpoint_for(run_dir, which)
    state = ckpt.load_checkpoint(source)
    model = load_model(source, device="cpu")  # napari_ruac reads ruac_config + model state itself
    model.info.base_model = state["ruac_config"].get("base_model")
    trainable = set(state.get("trainable") or PARTS)
    pretrained = bool(state["config"]["model"].get("pretrained", True)) and not state["config"]["model"].get("sam2_config")
    if include_sam2 is None:
        include_sam2 = not (bool(model.info.base_model) and pretrained and not ({"image_encoder", "prompt_encoder"} & trainable))
    notes = {"trained_steps": int(state["step"]), "best": state.get("best"), "source_checkpoint": str(source)}
    target = Path(out) if out is not None else run_dir / "export" / "model"  # → export/model.safetensors + .json
    return save_ruac_checkpoint(model, target, include_sam2=include_sam2, notes=notes)
