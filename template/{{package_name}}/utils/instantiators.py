"""Build Lightning callbacks and loggers from their config groups."""

from collections.abc import Callable
from typing import Any

import hydra
from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf


def instantiate_callbacks(cfg: DictConfig | None) -> list[Callback]:
    """Every entry of the callbacks group that has a `_target_` (others are ignored)."""
    return [
        hydra.utils.instantiate(entry, _convert_="all")
        for entry in (cfg or {}).values()
        if isinstance(entry, DictConfig) and "_target_" in entry
    ]


def instantiate_loggers(
    cfg: DictConfig | None, extra: Callable[[type], dict[str, Any]] | None = None
) -> list[Logger]:
    """Loggers from config; `extra(logger class)` adds arguments (see utils/resume.py)."""
    loggers = []
    for entry in (cfg or {}).values():
        if isinstance(entry, DictConfig) and "_target_" in entry:
            arguments = extra(hydra.utils.get_class(entry._target_)) if extra else {}
            loggers.append(hydra.utils.instantiate(entry, **arguments, _convert_="all"))
    return loggers


def log_hyperparameters(cfg: DictConfig, trainer: Trainer, model: LightningModule) -> None:
    """Send the resolved run config to every logger, so each run records its settings."""
    if not trainer.loggers:
        return
    params = OmegaConf.to_container(cfg, resolve=True)
    # The model as built: with the input width taken from the data.
    params["model"] = {
        **model.hparams,
        "params_total": sum(p.numel() for p in model.parameters()),
    }
    for logger in trainer.loggers:
        logger.log_hyperparams(params)
