"""``ruac-train``: train, resume, export, or fit a post-hoc head.

    ruac-train CONFIG.yaml [section.key=value ...]
    ruac-train --resume RUN_DIR
    ruac-train export RUN_DIR [--out PATH] [--checkpoint best|last|FILE] [--full]
    ruac-train fit-laplace MODEL DATA_DIR --out STEM     (see fit_cli)
    ruac-train fit-varnet MODEL DATA_DIR --out STEM
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from .config import ConfigError, load_config, read_yaml


def _train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ruac-train",
        description="Train RUAC (Bayesian SAM2 decoder + style/deformation attackers) on your data. "
        "'ruac-train export RUN_DIR' writes the inference checkpoint; 'ruac-train fit-laplace|fit-varnet "
        "MODEL DATA_DIR --out STEM' gives a model the head the laplace/varnet methods need.",
    )
    parser.add_argument("config", nargs="?", help="run config YAML (or a packaged name such as tiny_cpu)")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.epochs=2 data.batch_size=4")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ruac-train export", description="Write a run's inference checkpoint.")
    parser.add_argument("run_dir")
    parser.add_argument("--out", help="output stem (PATH.safetensors + PATH.json) or an existing folder (default RUN_DIR/export/model)")
    parser.add_argument("--checkpoint", default="best", help="best (default), last, or a checkpoint file")
    parser.add_argument("--full", action="store_true", help="include all SAM2 weights even when the base is a registry model")
    return parser


def _export(argv: list[str]) -> int:
    from .export import export_run

    args = _export_parser().parse_args(argv)
    weights, config = export_run(args.run_dir, args.out, args.checkpoint, True if args.full else None)
    size = weights.stat().st_size / 1e6
    print(f"wrote {weights} ({size:.1f} MB) and {config}")
    print(f"load it with: napari_ruac.load_model({str(weights.with_suffix('.json'))!r})")
    return 0


def _config_for(args) -> tuple[dict, bool]:
    if args.resume:
        run_dir = Path(args.resume)
        if not (run_dir / "config.yaml").is_file():
            raise ConfigError(f"{run_dir} has no config.yaml: is it a ruac-train run folder?")
        # with --resume the first positional is an override too (ruac-train --resume RUN train.epochs=30)
        overrides = ([args.config] if args.config else []) + [*args.overrides, f"run.dir={run_dir}"]
        return load_config(read_yaml(run_dir / "config.yaml"), overrides), True
    if not args.config:
        raise ConfigError("give a config YAML (ruac-train run.yaml), --resume RUN_DIR, or 'export RUN_DIR'.")
    return load_config(args.config, args.overrides), False


def _run(args) -> int:
    from .trainer import Trainer

    config, resume = _config_for(args)
    trainer = Trainer(config, resume=resume)
    interrupted = {"count": 0}

    def on_signal(signum, frame):
        interrupted["count"] += 1
        if interrupted["count"] > 1:
            raise KeyboardInterrupt
        print(f"\nstopping after this step and saving a checkpoint (signal {signum}); again to abort", file=sys.stderr)
        trainer.request_stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    bar = None
    if trainer.dist.is_main and not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=trainer.total_steps, initial=trainer.step, desc="ruac-train", unit="step", dynamic_ncols=True)
    try:
        for event in trainer.iter_train():
            if bar is None:
                continue
            if event.event == "step":
                bar.update(event.step - bar.n)
                shown = {k: f"{v:.3g}" for k, v in event.values.items() if k in ("total", "task_clean", "uaa", "train_iou")}
                bar.set_postfix(phase=event.phase, **shown)
            elif event.event == "validation" and event.values:
                bar.write(f"validation @ {event.step}: " + " ".join(f"{k}={v:.3f}" for k, v in sorted(event.values.items())))
            elif event.event == "checkpoint" and event.path:
                bar.write(f"checkpoint {event.path}")
            elif event.event == "stopped":
                bar.write(f"stopped at step {event.step}; continue with: ruac-train --resume {trainer.run_dir}")
    finally:
        if bar is not None:
            bar.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        trainer.close()
        from .distributed import shutdown

        shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from .data import DataError
    from napari_ruac.models import CheckpointError

    try:
        if argv and argv[0] == "export":
            return _export(argv[1:])
        from .fit_cli import COMMANDS, run as run_fit

        if argv and argv[0] in COMMANDS:
            try:
                return run_fit(argv[0], argv[1:])
            except ValueError as exc:  # bad folder contents, options, or data the model refuses
                print(f"ruac-train {argv[0]}: error: {exc}", file=sys.stderr)
                return 2
        return _run(_train_parser().parse_args(argv))
    except (ConfigError, DataError, CheckpointError, FileNotFoundError) as exc:
        print(f"ruac-train: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
