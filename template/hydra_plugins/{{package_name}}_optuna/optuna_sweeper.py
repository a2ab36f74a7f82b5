"""Hyperparameter search with current Optuna, as a Hydra sweeper.

`python main.py -m hparams_search=optuna` runs trials through Hydra's launcher (locally,
or on SLURM with hydra/launcher=slurm). The study lives in a database (SQLite by
default), so running the same command again continues it: a stopped or crashed search
resumes until the study has `n_trials` finished trials.

Why not hydra-optuna-sweeper: its last release (1.3.0) pins optuna<3, whose database
storage predates SQLAlchemy 2 (required by MLflow 3). This class is small and uses
current Optuna's ask-and-tell interface directly.
"""

import logging
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


class OptunaSweeper(Sweeper):
    """Suggests `params` with an Optuna sampler and optimises what main() returns."""

    def __init__(
        self,
        study_name: str,
        storage: str | None,
        direction: str,
        n_trials: int,
        n_jobs: int = 1,
        sampler: Any = None,
        pruner: Any = None,
        params: Any = None,
    ) -> None:
        self.study_name = study_name
        self.storage = storage
        self.direction = direction
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.sampler = sampler  # Hydra has already instantiated it from its _target_
        self.pruner = pruner  # likewise; each trial's run builds its own (pruning.py)
        self.params = OmegaConf.to_container(OmegaConf.create(params or {}), resolve=True)
        self.job_idx = 0

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> None:
        import optuna

        parsed = OverridesParser.create().parse_overrides(arguments)
        swept = [override.input_line for override in parsed if override.is_sweep_override()]
        if swept:
            raise ValueError(
                f"hparams_search=optuna takes single values on the command line, not {swept}; "
                f"put ranges in hydra.sweeper.params."
            )
        if self.storage and self.storage.startswith("sqlite:///"):
            Path(self.storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        study = optuna.create_study(
            study_name=self.study_name,
            storage=self.storage,
            direction=self.direction,
            sampler=self.sampler,
            pruner=self.pruner,
            load_if_exists=True,
        )
        if self.pruner is not None and not self.storage:
            log.warning("Pruning needs a study storage (hydra.sweeper.storage); trials run whole.")
        # Finished trials, as Optuna counts them for n_trials: completed or pruned.
        done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        finished = sum(t.state in done for t in study.trials)
        log.info(f"Study {self.study_name!r}: {finished} of {self.n_trials} trials done")
        attempts = 0
        while finished < self.n_trials and attempts < 2 * self.n_trials:
            trials = [study.ask() for _ in range(min(self.n_jobs, self.n_trials - finished))]
            batch = [
                [*arguments, *self._suggest(trial), f"optuna_trial={trial.number}"]
                for trial in trials
            ]
            returns = self.launcher.launch(batch, initial_job_idx=self.job_idx)
            self.job_idx += len(batch)
            attempts += len(batch)
            for trial, result in zip(trials, returns, strict=True):
                value = result.return_value if result.status == JobStatus.COMPLETED else None
                if isinstance(result._return_value, optuna.TrialPruned):
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    log.info(str(result._return_value))
                    finished += 1
                elif value is None:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(trial, float(value))
                    finished += 1
        self._report(study)

    def _suggest(self, trial: Any) -> list[str]:
        """One `key=value` override per searched parameter, as Optuna suggests it."""
        overrides = []
        for name, spec in self.params.items():
            spec = dict(spec)
            kind = spec.pop("type")
            if kind == "categorical":
                value = trial.suggest_categorical(name, spec["choices"])
            elif kind == "int":
                value = trial.suggest_int(name, **spec)
            elif kind == "float":
                value = trial.suggest_float(name, **spec)
            else:
                raise ValueError(
                    f"hydra.sweeper.params.{name}.type is {kind!r}; use float, int or categorical."
                )
            overrides.append(f"{name}={value}")
        return overrides

    def _report(self, study: Any) -> None:
        import optuna

        completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not completed:
            log.warning(f"Study {self.study_name!r} has no finished trial yet.")
            return
        best = study.best_trial
        results = {
            "study_name": self.study_name,
            "direction": self.direction,
            "finished_trials": len(completed),
            "pruned_trials": sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
            "best_value": best.value,
            "best_params": best.params,
        }
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(OmegaConf.create(results), sweep_dir / "optimization_results.yaml")
        log.info(f"Best value {best.value:.6g} with {best.params} (trial {best.number})")
