"""Every shipped training config loads, validates, and names only things that exist: a registry
model or a SAM2 config the builder registry resolves, and registered extra heads."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_ruac.models import MODELS, embedded_models
from napari_ruac.models.builders import EXTRA_HEADS, build_extra_head, resolve_sam2_config
from napari_ruac.models.sam2_build import load_config as load_sam2_config
from ruac_training.config import load_config

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "training" / "ruac_training" / "configs").glob("*.yaml"))


def test_configs_are_found():
    assert len(CONFIGS) >= 2 and any(p.name == "default.yaml" for p in CONFIGS)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_shipped_config_loads_and_names_what_exists(path):
    config = load_config(path)
    model = config["model"]
    if model.get("sam2_config"):
        sam2 = load_sam2_config(resolve_sam2_config(model["sam2_config"]))
        assert "image_encoder" in sam2["model"]
    else:
        assert model["name"] in MODELS or model["name"] in embedded_models(), model["name"]
    for name, spec in (model.get("extras") or {}).items():
        assert build_extra_head(name, spec).config() is not None
    start = model.get("init_checkpoint")
    if start:  # a shipped file, or the output of an earlier phase that another shipped config runs
        runs = {str(load_config(other)["run"]["dir"]).rstrip("/") for other in CONFIGS}
        produced = any(str(start).startswith(run + "/") for run in runs)
        assert produced or (Path(__file__).resolve().parents[1] / start).is_file(), f"{path.name}: {start} comes from nowhere"


def test_extra_heads_rebuild_from_old_and_new_names():
    for old in ("napari_ruac.uq.varnet:VarianceHead", "VarianceHead"):  # checkpoints written before the registry
        assert type(build_extra_head("varnet", {"class": old})) is EXTRA_HEADS["VarianceHead"]
    with pytest.raises(ValueError, match="registered heads"):
        build_extra_head("x", {"class": "os:system"})
