"""One run: build everything from the config, fit, then test the best checkpoint."""

import json
import logging
import warnings
from pathlib import Path

import hydra
import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from .errors import UserError
from .models.build import build_model
from .utils import (
    RankedLogger,
    instantiate_callbacks,
    instantiate_loggers,
    log_hyperparameters,
    print_config_tree,
)
from .utils.report import print_run_summary
from .utils.resume import RecordLoggerRuns, resume_arguments

log = RankedLogger(__name__)

# The data is served from memory, where worker processes only add overhead.
warnings.filterwarnings("ignore", ".*does not have many workers.*")
# Lightning 2.6 calls a torch API that newer torch marks deprecated, on every epoch.
warnings.filterwarnings("ignore", ".*isinstance\\(treespec, LeafSpec\\).*")
# Lightning's own handler would print each of its messages a second time beside
# Hydra's handlers, which also write them to the run's main.log.
for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
    logging.getLogger(name).handlers.clear()
    logging.getLogger(name).propagate = True
# Advertising for Lightning's cloud services, printed on every run.
logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(
    lambda record: "💡 Tip" not in record.getMessage()
)


def train(cfg: DictConfig) -> dict[str, float]:
    """Train and/or test as `cfg.train` and `cfg.test` say; return the final metrics.

    With `ckpt_path`, training resumes from that checkpoint (continuing the logger's run
    where the logger allows), or with `train=false` only tests it.
    """
    check_checkpoint_path(cfg)
    datamodule = hydra.utils.instantiate(cfg.data, _convert_="all")
    checkpoint = None
    if cfg.get("ckpt_path"):
        # Scale and label the data as the checkpoint's model was trained; data with
        # other feature columns is refused in setup().
        checkpoint = torch.load(cfg.ckpt_path, map_location="cpu", weights_only=True)
        datamodule.load_state_dict(checkpoint["DataModule"])
    # Read and check the data first: bad data stops the run before anything else, and
    # the network's input width is the number of feature columns.
    datamodule.prepare_data()
    datamodule.setup("fit")
    if cfg.get("print_config"):
        print_config_tree(cfg)
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    model = build_model(cfg.model, datamodule)

    callbacks_cfg = cfg.get("callbacks")
    resuming = {}
    if checkpoint and cfg.get("train"):
        resuming = resume_arguments(checkpoint)
        callbacks_cfg = continue_in_checkpoint_folder(callbacks_cfg, Path(cfg.ckpt_path).parent)
    trainer = hydra.utils.instantiate(
        cfg.trainer,
        callbacks=[*instantiate_callbacks(callbacks_cfg), RecordLoggerRuns()],
        logger=instantiate_loggers(cfg.get("logger"), extra=resuming) or False,
        _convert_="all",
    )
    if not resuming:  # a continued logger run has its parameters already
        log_hyperparameters(cfg, trainer, model)

    metrics: dict[str, float] = {}
    ckpt_path = cfg.get("ckpt_path")
    if cfg.get("train"):
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
        metrics.update(trainer.callback_metrics)
        ckpt_path = best_checkpoint(trainer)
    if cfg.get("test"):
        trainer.test(model, datamodule=datamodule, ckpt_path=ckpt_path)
        metrics.update(trainer.callback_metrics)
    metrics = {name: float(value) for name, value in metrics.items()}
    if trainer.is_global_zero:
        # Read by the multirun summary (sweeps/summary.py) and by you.
        output_dir = Path(cfg.paths.output_dir)
        (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print_run_summary(metrics, cfg.paths.output_dir, ckpt_path)
    return metrics


def continue_in_checkpoint_folder(callbacks: DictConfig | None, folder: Path) -> DictConfig:
    """Checkpoint callbacks that keep writing where the resumed run wrote: Lightning then
    restores their best score, and the run's best and last checkpoints stay together."""
    moved = {
        name: {"dirpath": str(folder)}
        for name, entry in (callbacks or {}).items()
        if isinstance(entry, DictConfig) and "dirpath" in entry
    }
    return OmegaConf.merge(callbacks or {}, moved)


def check_checkpoint_path(cfg: DictConfig) -> None:
    """Stop early, with the fix, when the checkpoint to resume or test is missing."""
    ckpt_path = cfg.get("ckpt_path")
    if not cfg.get("train") and not ckpt_path:
        raise UserError("train=false only tests a checkpoint: add ckpt_path=<path to .ckpt>.")
    if ckpt_path and not Path(ckpt_path).is_file():
        raise UserError(f"ckpt_path: no file at {Path(ckpt_path).resolve()}.")


def best_checkpoint(trainer: L.Trainer) -> str | None:
    """The best checkpoint of this fit, or None (test the current weights) if none was saved."""
    monitored = [c for c in trainer.checkpoint_callbacks if getattr(c, "monitor", None)]
    path = monitored[0].best_model_path if monitored else ""
    if not path:
        log.warning("No checkpoint was saved (e.g. fast_dev_run); testing the current weights.")
        return None
    return path
