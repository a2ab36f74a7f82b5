"""Continue a logger's run when training resumes from a checkpoint.

Checkpoints record the run id of each logger, by logger class; `resume_arguments`
turns them into the arguments that make MLflow and W&B append to that run instead of
starting a new one. Other loggers start anew in the resumed run's folder.
"""

from collections.abc import Callable
from typing import Any

from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import MLFlowLogger, WandbLogger

# Logger class -> the constructor arguments that continue an existing run.
CONTINUE_RUN: dict[type, Callable[[str], dict[str, Any]]] = {
    MLFlowLogger: lambda run: {"run_id": run},
    WandbLogger: lambda run: {"id": run, "resume": "allow"},
}


def class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class RecordLoggerRuns(Callback):
    """Stores each logger's run id in every checkpoint, under its class's import path."""

    def on_save_checkpoint(
        self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint["logger_runs"] = {
            class_path(type(logger)): str(logger.version) for logger in trainer.loggers
        }


def resume_arguments(checkpoint: dict[str, Any]) -> Callable[[type], dict[str, Any]]:
    """For a logger class, the arguments that continue its run recorded in the checkpoint."""
    runs = checkpoint.get("logger_runs", {})

    def arguments(logger_class: type) -> dict[str, Any]:
        for cls, continue_run in CONTINUE_RUN.items():
            if issubclass(logger_class, cls) and class_path(logger_class) in runs:
                return continue_run(runs[class_path(logger_class)])
        return {}

    return arguments
