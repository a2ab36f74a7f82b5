"""One run: build everything from the config, fit, then test the best checkpoint."""

import logging
import warnings

import hydra
import lightning as L
from omegaconf import DictConfig

from .utils import (
    RankedLogger,
    instantiate_callbacks,
    instantiate_loggers,
    log_hyperparameters,
    print_config_tree,
)

log = RankedLogger(__name__)

# The data is served from memory, where worker processes only add overhead.
warnings.filterwarnings("ignore", ".*does not have many workers.*")
# Lightning 2.6 calls a torch API that newer torch marks deprecated, on every epoch.
warnings.filterwarnings("ignore", ".*isinstance\\(treespec, LeafSpec\\).*")
# Lightning's own handler would print each of its messages a second time beside
# Hydra's handlers, which also write them to the run's main.log.
for name in ("lightning.pytorch", "lightning.fabric"):
    logging.getLogger(name).handlers.clear()


def train(cfg: DictConfig) -> dict[str, float]:
    """Train and/or test as `cfg.train` and `cfg.test` say; return the final metrics."""
    if cfg.get("print_config"):
        print_config_tree(cfg)
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)

    datamodule = hydra.utils.instantiate(cfg.data, _convert_="all")
    # Read the data now: the network's input width is its number of feature columns.
    datamodule.prepare_data()
    datamodule.setup("fit")
    model = hydra.utils.instantiate(
        cfg.model, net={"input_size": datamodule.num_features}, _convert_="all"
    )
    trainer = hydra.utils.instantiate(
        cfg.trainer,
        callbacks=instantiate_callbacks(cfg.get("callbacks")),
        logger=instantiate_loggers(cfg.get("logger")) or False,
        _convert_="all",
    )
    log_hyperparameters(cfg, trainer, model)

    metrics: dict[str, float] = {}
    if cfg.get("train"):
        trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        metrics.update(trainer.callback_metrics)
    if cfg.get("test"):
        ckpt_path = best_checkpoint(trainer) if cfg.get("train") else cfg.get("ckpt_path")
        trainer.test(model, datamodule=datamodule, ckpt_path=ckpt_path)
        metrics.update(trainer.callback_metrics)
    log.info(f"Run directory: {cfg.paths.output_dir}")
    return {name: float(value) for name, value in metrics.items()}


def best_checkpoint(trainer: L.Trainer) -> str | None:
    """The best checkpoint of this fit, or None (test the current weights) if none was saved."""
    callback = trainer.checkpoint_callback
    path = getattr(callback, "best_model_path", "") if callback else ""
    if not path:
        log.warning("No checkpoint was saved (e.g. fast_dev_run); testing the current weights.")
        return None
    return path
