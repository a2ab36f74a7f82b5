"""Stop an Optuna trial early when its pruner says it will not beat the others.

hparams_search=optuna adds this callback to every trial's run; the sweeper tells each
run its trial (`optuna_trial`). After every validation epoch the callback reports the
optimised metric to the study and asks its pruner (hydra.sweeper.pruner) whether to
stop. A pruned run writes its metrics.json (marked `pruned_at_epoch`) and raises
optuna.TrialPruned, which the sweeper records as PRUNED.
"""

import json
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from lightning import Callback, LightningModule, Trainer


class OptunaPruning(Callback):
    """Reports `monitor` to Optuna trial number `trial` after every validation epoch."""

    def __init__(self, monitor: str, trial: int | None = None) -> None:
        self.monitor = monitor
        self.number = trial
        self.trial: Any = None

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        sweeper = HydraConfig.get().sweeper
        if self.number is None or sweeper.get("pruner") is None or not sweeper.get("storage"):
            return  # not a trial of a pruned search
        import optuna

        study = optuna.load_study(
            study_name=sweeper.study_name,
            storage=sweeper.storage,
            pruner=hydra.utils.instantiate(sweeper.pruner),
        )
        (trial,) = [t for t in study.get_trials(deepcopy=False) if t.number == self.number]
        self.trial = optuna.trial.Trial(study, trial._trial_id)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.trial is None or trainer.sanity_checking or not trainer.is_global_zero:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        epoch = trainer.current_epoch
        self.trial.report(float(value), step=epoch)
        if self.trial.should_prune():
            import optuna

            metrics = {name: float(v) for name, v in trainer.callback_metrics.items()}
            output_dir = Path(HydraConfig.get().runtime.output_dir)
            (output_dir / "metrics.json").write_text(
                json.dumps({**metrics, "pruned_at_epoch": epoch}, indent=2) + "\n"
            )
            raise optuna.TrialPruned(
                f"trial {self.trial.number} pruned after epoch {epoch} "
                f"({self.monitor} = {float(value):.4g})"
            )
