"""Training configuration: the packaged defaults, a run's YAML on top, dotted CLI overrides last.

Unknown keys are errors (with the closest known key), so a typo never silently trains with a
default. Keys whose value is a free-form mapping (model.head, model.extras, model.sam2_config)
accept anything.
"""

from __future__ import annotations

import copy
import difflib
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

FREE_FORM = {("model", "head"), ("model", "extras"), ("model", "sam2_config"), ("data", "train"), ("data", "val")}
OPEN_KEYS = {("optim", "weight_decay")}  # merged key by key; new keys (a group name) allowed


class ConfigError(ValueError):
    """A training config that cannot be used; the message names the key and the fix."""


def defaults() -> dict:
    """The packaged ``configs/default.yaml`` as a dict."""
    text = resources.files("ruac_training").joinpath("configs/default.yaml").read_text()
    return yaml.safe_load(text)


def packaged_config(name: str) -> Path | None:
    """Path of a packaged config by name (``tiny_cpu`` → configs/tiny_cpu.yaml), if it exists."""
    candidate = resources.files("ruac_training").joinpath(f"configs/{Path(name).stem}.yaml")
    return Path(str(candidate)) if candidate.is_file() else None


def read_yaml(path: str | Path) -> dict:
    """A config file; a bare name of a packaged config (``tiny_cpu``) works too."""
    file = Path(path)
    if not file.is_file():
        packaged = packaged_config(str(path)) if not file.parent.parts else None
        if packaged is None:
            raise ConfigError(f"config file {path} does not exist.")
        file = packaged
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{file} must hold a mapping of sections (run, model, data, ...), got {type(data).__name__}.")
    return data


def merge(base: dict, update: dict, path: tuple = ()) -> dict:
    """``update`` deep-merged into a copy of ``base``; a key absent from ``base`` is an error."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        here = (*path, key)
        if here in FREE_FORM or (key not in out and tuple(path) in OPEN_KEYS):
            out[key] = copy.deepcopy(value)
            continue
        if key not in out:
            close = difflib.get_close_matches(str(key), [str(k) for k in out], n=1)
            hint = f" Did you mean {'.'.join(map(str, (*path, close[0])))!r}?" if close else ""
            raise ConfigError(f"unknown config key {'.'.join(map(str, here))!r}.{hint}")
        if isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = merge(out[key], value, here)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> dict:
    """``a.b.c=value`` → {"a": {"b": {"c": value}}}, the value read as YAML (numbers, lists, null)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value (e.g. train.epochs=2).")
    dotted, _, raw = text.partition("=")
    keys = [k for k in dotted.strip().split(".") if k]
    if not keys:
        raise ConfigError(f"override {text!r} has no key before '='.")
    try:
        value: Any = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot read the value of override {text!r}: {exc}") from exc
    for key in reversed(keys):
        value = {key: value}
    return value


def load_config(source: str | Path | dict | None = None, overrides: list[str] | None = None) -> dict:
    """Defaults ← ``source`` (a YAML path or a dict) ← dotted ``overrides``, validated."""
    config = defaults()
    if source is not None:
        config = merge(config, source if isinstance(source, dict) else read_yaml(source))
    for text in overrides or []:
        config = merge(config, parse_override(text))
    validate(config)
    return config


def validate(config: dict) -> None:
    """Checks that catch the mistakes a first run makes, before any model is built."""
    model, data, loss, optim = config["model"], config["data"], config["loss"], config["optim"]
    if not model.get("name") and not model.get("sam2_config"):
        raise ConfigError("model.name (a registry name like sam2.1_hiera_tiny) or model.sam2_config must be set.")
    size = model.get("image_size")
    if size is not None and (int(size) % 32 or int(size) < 64):
        raise ConfigError(f"model.image_size must be a multiple of 32 and ≥ 64, got {size}.")
    known_parts = {"image_encoder", "prompt_encoder", "mask_decoder", "head", "extras", "memory"}
    unknown = set(model.get("freeze") or []) - known_parts
    if unknown:
        raise ConfigError(f"model.freeze lists {sorted(unknown)}; choose from {sorted(known_parts)}.")
    for key in ("batch_size", "max_objects"):
        if int(data[key]) < 1:
            raise ConfigError(f"data.{key} must be ≥ 1, got {data[key]}.")
    if loss["task_logits"] not in ("sample", "mean"):
        raise ConfigError(f"loss.task_logits must be 'sample' or 'mean', got {loss['task_logits']!r}.")
    if loss["mask_resolution"] not in ("low", "full"):
        raise ConfigError(f"loss.mask_resolution must be 'low' or 'full', got {loss['mask_resolution']!r}.")
    if loss.get("uaa_error_form", "paper") not in ("paper", "confident"):
        raise ConfigError(f"loss.uaa_error_form must be 'paper' or 'confident', got {loss['uaa_error_form']!r}.")
    if not 0 <= float(config["prompts"].get("box_loose", 0.0)) <= 1:
        raise ConfigError(f"prompts.box_loose must be in [0, 1] (a fraction of the box side), got {config['prompts']['box_loose']}.")
    if not 0 <= float(config["prompts"].get("box_loose_fraction", 1.0)) <= 1:
        raise ConfigError("prompts.box_loose_fraction must be in [0, 1] (the share of boxes loosened), got "
                          f"{config['prompts']['box_loose_fraction']}.")
    if float(config["prompts"].get("box_loose_px", 0.0)) < 0:
        raise ConfigError(f"prompts.box_loose_px must be ≥ 0 (model pixels of slack per side), got {config['prompts']['box_loose_px']}.")
    if optim["schedule"] not in ("cosine", "constant"):
        raise ConfigError(f"optim.schedule must be 'cosine' or 'constant', got {optim['schedule']!r}.")
    if int(optim["accumulate"]) < 1:
        raise ConfigError(f"optim.accumulate must be ≥ 1, got {optim['accumulate']}.")
    if not 0 < float(config["attack"]["fraction"]) <= 1:
        raise ConfigError(f"attack.fraction must be in (0, 1], got {config['attack']['fraction']}.")
    if config["run"]["precision"] not in ("auto", "bf16", "fp32"):
        raise ConfigError(f"run.precision must be auto, bf16 or fp32, got {config['run']['precision']!r}.")
    if config["val"]["mode"] not in ("max", "min"):
        raise ConfigError(f"val.mode must be 'max' or 'min', got {config['val']['mode']!r}.")
    _validate_mode(config)


def _validate_mode(config: dict) -> None:
    """train.mode and, in memory mode, the memory section and clip data entries."""
    mode = config["train"].get("mode", "image")
    if mode not in ("image", "memory"):
        raise ConfigError(f"train.mode must be 'image' (single images) or 'memory' (SAM2's video-memory path on "
                          f"z-stack clips), got {mode!r}.")
    if mode != "memory":
        return
    if int(config["memory"]["frames"]) < 2:
        raise ConfigError(f"memory.frames must be ≥ 2 (one prompted slice, at least one tracked), got {config['memory']['frames']}.")
    if int(config["memory"]["max_stride"]) < 1:
        raise ConfigError(f"memory.max_stride must be ≥ 1, got {config['memory']['max_stride']}.")
    if "memory" in (config["model"].get("freeze") or []):
        raise ConfigError("train.mode memory trains the memory part: remove 'memory' from model.freeze.")
    for section in ("train", "val"):
        entries = config["data"].get(section) or []
        for entry in [entries] if isinstance(entries, dict) else entries:
            if not isinstance(entry, dict) or entry.get("type") != "synthetic_volumes":
                kind = entry.get("type") if isinstance(entry, dict) else entry
                raise ConfigError(f"train.mode memory reads data.{section} entries of type 'synthetic_volumes' "
                                  f"(generated z-stacks), got {kind!r}.")


def save_config(config: dict, path: str | Path) -> None:
    """The resolved config as YAML (what ``--resume`` reads back)."""
    Path(path).write_text(yaml.safe_dump(config, sort_keys=False))
