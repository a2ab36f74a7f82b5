"""Build Lightning callbacks and loggers from their config groups."""

from typing import Any

import hydra
from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf


def _instantiate_each(group: DictConfig | None) -> list[Any]:
    """Instantiate every entry of a group that has a `_target_` (others are ignored)."""
    if not group:
        return []
    return [
        hydra.utils.instantiate(entry, _convert_="all")
        for entry in group.values()
        if isinstance(entry, DictConfig) and "_target_" in entry
    ]


def instantiate_callbacks(cfg: DictConfig | None) -> list[Callback]:
    return _instantiate_each(cfg)


def instantiate_loggers(cfg: DictConfig | None) -> list[Logger]:
    return _instantiate_each(cfg)


def log_hyperparameters(cfg: DictConfig, trainer: Trainer, model: LightningModule) -> None:
    """Send the resolved run config to every logger, so each run records its settings."""
    if not trainer.loggers:
        return
    params = OmegaConf.to_container(cfg, resolve=True)
    params["model"]["params_total"] = sum(p.numel() for p in model.parameters())
    for logger in trainer.loggers:
        logger.log_hyperparams(params)
