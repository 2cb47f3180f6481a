"""Known models: the official SAM2.1 checkpoints (URL, sha256, size) and where they live.

The cache directory is ``$NAPARI_RUAC_CACHE`` if set, else ``$XDG_CACHE_HOME/napari-ruac``
(``~/.cache/napari-ruac``); checkpoints go to its ``models/`` folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

CACHE_ENV = "NAPARI_RUAC_CACHE"
OFFLINE_ENV = "NAPARI_RUAC_OFFLINE"
_FB_BASE = "https://dl.fbaipublicfiles.com/segment_anything_2/092824"
_HF_BASE = "https://huggingface.co/facebook"


@dataclass(frozen=True)
class ModelSpec:
    """One downloadable (or shipped) model."""

    name: str
    config: str  # SAM2 config name inside the sam2 package
    filename: str
    url: str
    sha256: str
    size_bytes: int
    mirrors: tuple[str, ...] = ()
    description: str = ""
    aliases: tuple[str, ...] = field(default=())

    @property
    def urls(self) -> tuple[str, ...]:
        return (self.url, *self.mirrors)


def _sam21(size: str, letter: str, sha256: str, size_bytes: int, params: str) -> ModelSpec:
    filename = f"sam2.1_hiera_{size}.pt"
    return ModelSpec(
        name=f"sam2.1_hiera_{size}",
        config=f"configs/sam2.1/sam2.1_hiera_{letter}.yaml",
        filename=filename,
        url=f"{_FB_BASE}/{filename}",
        mirrors=(f"{_HF_BASE}/sam2.1-hiera-{size.replace('_', '-')}/resolve/main/{filename}",),
        sha256=sha256,
        size_bytes=size_bytes,
        description=f"SAM2.1 Hiera-{size} ({params} parameters), Meta, Apache-2.0",
        aliases=(size, f"sam2.1-{size}", filename),
    )


# sha256 and sizes: the Git LFS pointers of facebook/sam2.1-hiera-* on Hugging Face.
MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        _sam21("tiny", "t", "7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69", 156008466, "38.9 M"),
        _sam21("small", "s", "6d1aa6f30de5c92224f8172114de081d104bbd23dd9dc5c58996f0cad5dc4d38", 184416285, "46 M"),
        _sam21(
            "base_plus", "b+", "a2345aede8715ab1d5d31b4a509fb160c5a4af1970f199d9054ccfb746c004c5", 323606802, "80.8 M"
        ),
        _sam21("large", "l", "2647878d5dfa5098f2f8649825738a9345572bae2d4350a2468587ece47dd318", 898083611, "224.4 M"),
    )
}

DEFAULT_MODEL = "sam2.1_hiera_tiny"


class UnknownModelError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


def get_spec(name: str) -> ModelSpec:
    """The registry entry for a name or alias (``tiny``, ``sam2.1_hiera_tiny``, the file name)."""
    if name in MODELS:
        return MODELS[name]
    for spec in MODELS.values():
        if name in spec.aliases:
            return spec
    known = ", ".join(MODELS)
    raise UnknownModelError(
        f"unknown model {name!r}. Known models: {known}; or pass a path to a checkpoint file."
    )


def cache_dir() -> Path:
    """Root of the napari-ruac cache (created on demand)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        root = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = Path(base) / "napari-ruac"
    return root


def models_dir() -> Path:
    return cache_dir() / "models"


def checkpoint_path(name: str) -> Path:
    """Where the checkpoint of a registry model is (or will be) stored."""
    return models_dir() / get_spec(name).filename


def is_offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").lower() in {"1", "true", "yes"}


def available_models() -> list[str]:
    """Models usable without a download: shipped ones, then registry checkpoints in the cache."""
    return list(embedded_models()) + [name for name in MODELS if checkpoint_path(name).is_file()]


def weights_dir() -> Path:
    """Folder of the models shipped inside the package (``napari_ruac/weights``)."""
    return Path(__file__).resolve().parent.parent / "weights"


def embedded_models() -> dict[str, Path]:
    """Shipped napari-ruac checkpoints by name (``weights/NAME.json`` + ``NAME.safetensors``)."""
    folder = weights_dir()
    if not folder.is_dir():
        return {}
    return {
        config.stem: config
        for config in sorted(folder.glob("*.json"))
        if config.with_suffix(".safetensors").is_file()
    }


def default_model_name() -> str:
    """SAM2.1-tiny when its checkpoint is in the cache, else a shipped model, else SAM2.1-tiny
    (which is then downloaded on first use)."""
    if checkpoint_path(DEFAULT_MODEL).is_file():
        return DEFAULT_MODEL
    shipped = embedded_models()
    return next(iter(shipped)) if shipped else DEFAULT_MODEL
