"""Continue a logger's run when training resumes from a checkpoint.

Checkpoints record the run id of each logger; `resume_arguments` turns them into the
arguments that make MLflow and W&B append to that run instead of starting a new one.
Other loggers start anew in the resumed run's folder.
"""

from typing import Any

from lightning import Callback, LightningModule, Trainer

# Logger class -> the constructor arguments that continue an existing run.
CONTINUE_RUN = {
    "MLFlowLogger": lambda run: {"run_id": run},
    "WandbLogger": lambda run: {"id": run, "resume": "allow"},
}


class RecordLoggerRuns(Callback):
    """Stores each logger's run id in every checkpoint."""

    def on_save_checkpoint(
        self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint["logger_runs"] = {
            type(logger).__name__: str(logger.version) for logger in trainer.loggers
        }


def resume_arguments(checkpoint: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per logger class, the arguments that continue the run recorded in the checkpoint."""
    runs = checkpoint.get("logger_runs", {})
    return {name: CONTINUE_RUN[name](run) for name, run in runs.items() if name in CONTINUE_RUN}
