"""Training RUAC (Bayesian decoder + style/deformation attackers) on your own data.

``ruac-train`` is the command line (``ruac_training.cli``); in Python::

    from ruac_training import Trainer, load_config, export_run
    trainer = Trainer(load_config("run.yaml", ["train.epochs=2"]))
    for event in trainer.iter_train(): ...
    export_run(trainer.run_dir)
"""

from .config import ConfigError, load_config

__all__ = ["ConfigError", "Trainer", "export_run", "load_config"]


def __getattr__(name: str):
    """Trainer and export pull in torch.distributed and the models: import them on first use."""
    if name == "Trainer":
        from .trainer import Trainer

        return Trainer
    if name == "export_run":
        from .export import export_run

        return export_run
    raise AttributeError(f"module 'ruac_training' has no attribute {name!r}")
