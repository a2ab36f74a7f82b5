"""One run: build everything from the config, fit, then test the best checkpoint."""

import json
import random
from pathlib import Path

import hydra
import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf, open_dict

from .data.roles import print_columns, save_columns
from .errors import UserError, checkpoint_file
from .models.build import build_model, check_task
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


def train(cfg: DictConfig) -> dict[str, float]:
    """Train and/or test as `cfg.train` and `cfg.test` say; return the final metrics.

    With `ckpt_path`, training resumes from that checkpoint (continuing the logger's run
    where the logger allows), or with `train=false` only tests it.
    """
    check_checkpoint_path(cfg)
    check_task(cfg.model, cfg.data.task)
    if cfg.get("torch_threads"):
        torch.set_num_threads(cfg.torch_threads)
    datamodule = hydra.utils.instantiate(cfg.data, _convert_="all")
    checkpoint = None
    if cfg.get("ckpt_path"):
        # Prepare and label the data as the checkpoint's model was trained; data without
        # its feature columns is refused in setup().
        checkpoint = torch.load(cfg.ckpt_path, map_location="cpu", weights_only=True)
        datamodule.load_state_dict(checkpoint["DataModule"])
    # Read and check the data first: bad data stops the run before anything else, and
    # the network's inputs follow the table's columns.
    datamodule.prepare_data()
    datamodule.setup("fit")
    if cfg.get("seed") is None:  # seed=null: draw one, so the run can be repeated
        with open_dict(cfg):
            cfg.seed = random.SystemRandom().randrange(2**31)
        log.info(f"Drew seed {cfg.seed}; repeat this run with seed={cfg.seed}.")
    if cfg.get("print_config"):
        print_config_tree(cfg)
    report_columns(datamodule, Path(cfg.paths.output_dir))
    L.seed_everything(cfg.seed, workers=True)
    model = build_model(cfg.model, datamodule)

    callbacks_cfg = cfg.get("callbacks")
    resuming = None
    if checkpoint and cfg.get("train"):
        resuming = resume_arguments(checkpoint)
        callbacks_cfg = continue_in_checkpoint_folder(callbacks_cfg, Path(cfg.ckpt_path).parent)
    trainer = hydra.utils.instantiate(
        cfg.trainer,
        callbacks=[*instantiate_callbacks(callbacks_cfg), RecordLoggerRuns()],
        logger=instantiate_loggers(cfg.get("logger"), extra=resuming) or False,
        _convert_="all",
    )
    # A continued logger run has its parameters already.
    if not (resuming and any(resuming(type(logger)) for logger in trainer.loggers)):
        log_hyperparameters(cfg, trainer, model)

    metrics: dict[str, float] = {}
    ckpt_path = cfg.get("ckpt_path")
    if cfg.get("train"):
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
        metrics.update(trainer.callback_metrics)
        ckpt_path = best_checkpoint(trainer)
    if cfg.get("test"):
        # verbose=False: the run summary below prints the test metrics, with the baseline.
        trainer.test(model, datamodule=datamodule, ckpt_path=ckpt_path, verbose=False)
        metrics.update(trainer.callback_metrics)
    metrics = {name: float(value) for name, value in metrics.items()}
    if trainer.is_global_zero:
        # Read by the multirun summary (sweeps/summary.py) and by you.
        output_dir = Path(cfg.paths.output_dir)
        (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print_run_summary(metrics, cfg.paths.output_dir, ckpt_path if cfg.get("test") else None)
    return metrics


@rank_zero_only
def report_columns(datamodule, output_dir: Path) -> None:
    """Print what each column is used as, keep it as columns.csv, and warn of columns left out."""
    rows = datamodule.preprocessor.describe()
    print_columns(rows)
    save_columns(rows, output_dir / "columns.csv")
    for role in datamodule.preprocessor.roles:
        if role.keep_with:
            log.warning(
                f"Left out column {role.column!r} ({role.reason}); to use it anyway, add "
                f"{role.keep_with}=[{role.column}]."
            )


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
    if ckpt_path:
        checkpoint_file(ckpt_path)


def best_checkpoint(trainer: L.Trainer) -> str | None:
    """The best checkpoint of this fit, or None (test the current weights) if none was saved."""
    monitored = [c for c in trainer.checkpoint_callbacks if getattr(c, "monitor", None)]
    path = monitored[0].best_model_path if monitored else ""
    if not path:
        log.warning("No checkpoint was saved (e.g. fast_dev_run); testing the current weights.")
        return None
    return path
