"""Evaluation a practitioner can trust: folds, mean ± std over repeats, baselines, pruning."""

import csv
import json
import sqlite3

import pytest
import yaml

from .conftest import render, run_ok

pytestmark = pytest.mark.slow

SHORT = ["trainer.max_epochs=3", "print_config=false", "callbacks.rich_progress_bar=null"]


def mlflow_runs(project) -> dict[str, str]:
    """Run id -> status of every run in the project's MLflow store (none yet: {})."""
    store = project / "logs" / "mlflow.db"
    if not store.exists():
        return {}
    with sqlite3.connect(store) as db:
        return dict(db.execute("select run_uuid, status from runs").fetchall())


def read_csv(path) -> list[dict[str, str]]:
    with path.open() as file:
        return list(csv.DictReader(file))


def latest_sweep(project):
    return sorted((project / "logs" / "multiruns").iterdir())[-1]


def test_cross_validation_and_seeds_are_grouped_with_mean_and_std(rendered):
    project = rendered(task_type="multiclass", logger="none")
    run_ok(project, "main.py", "-m", "data.folds=3", "data.fold=range(3)", *SHORT)
    sweep = latest_sweep(project)
    jobs = read_csv(sweep / "summary.csv")
    assert sorted(job["data.fold"] for job in jobs) == ["0", "1", "2"]
    (group,) = read_csv(sweep / "summary_grouped.csv")
    assert group["n"] == "3" and float(group["test/acc std"]) >= 0
    assert float(group["test/acc mean"]) == pytest.approx(
        sum(float(job["test/acc"]) for job in jobs) / 3
    )
    # The test split is the same for every fold: so is the majority-class baseline.
    assert len({job["baseline/acc"] for job in jobs}) == 1

    result = run_ok(project, "main.py", "-m", "seed=1,2,3", "model.optimizer.lr=1e-3,1e-2", *SHORT)
    grouped = read_csv(latest_sweep(project) / "summary_grouped.csv")
    assert sorted(float(row["model.optimizer.lr"]) for row in grouped) == [1e-3, 1e-2]
    assert all(row["n"] == "3" and "seed" not in row for row in grouped)
    assert "mean ± std per configuration" in result.stdout
    assert "±" in result.stdout


def test_baseline_is_logged_beside_every_test_metric(rendered):
    project = rendered(task_type="regression", logger="mlflow")
    result = run_ok(project, "main.py", *SHORT)
    assert "baseline" in result.stdout
    with sqlite3.connect(project / "logs" / "mlflow.db") as db:
        keys = {key for (key,) in db.execute("select distinct key from metrics")}
    for metric in ("mse", "mae", "r2"):
        assert f"test/{metric}" in keys and f"baseline/{metric}" in keys


def test_search_with_diverging_rates_prunes_and_finishes_beside_another_optuna_plugin(tmp_path):
    """Learning rates up to 1e3 make some trials diverge or trail: the search prunes at
    least one, records it as PRUNED and finishes. Another plugin's `hydra/sweeper/optuna`
    schema (hydra-optuna-sweeper registers one) does not get in the way."""
    import optuna

    project = render(tmp_path / "project", task_type="binary", logger="none")
    plugin = project / "hydra_plugins" / "other_optuna"
    plugin.mkdir()
    (plugin / "__init__.py").write_text(OTHER_PLUGIN)
    (project / "config" / "hparams_search" / "wide.yaml").write_text(WIDE_SEARCH)
    trials = 6
    run_ok(
        project, "main.py", "-m", "hparams_search=wide", f"hydra.sweeper.n_trials={trials}",
        "hydra.sweeper.pruner.n_startup_trials=2", "hydra.sweeper.pruner.n_warmup_steps=1",
        "trainer.max_epochs=6", *SHORT[1:],
    )  # fmt: skip
    study = optuna.load_study(study_name="train", storage=f"sqlite:///{project}/logs/optuna.db")
    states = [trial.state for trial in study.trials]
    assert optuna.trial.TrialState.PRUNED in states
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    assert sum(state in done for state in states) == trials


# A user's own search space, on top of the project's: learning rates up to 1e3.
WIDE_SEARCH = """# @package _global_
defaults:
  - optuna
  - _self_

hydra:
  sweeper:
    params:
      model.optimizer.lr: {type: float, low: 1.0e-4, high: 1000.0, log: true}
"""

OTHER_PLUGIN = """
from hydra.core.config_store import ConfigStore

# What hydra-optuna-sweeper registers: a schema named hydra/sweeper/optuna.
ConfigStore.instance().store(
    group="hydra/sweeper", name="optuna", node={"_target_": "other.Sweeper", "n_jobs": 2}
)
"""


def test_two_deterministic_runs_give_equal_metrics(rendered):
    project = rendered(task_type="regression", logger="none")
    results = []
    for _ in range(2):
        before = set(project.glob("logs/runs/*/metrics.json"))
        run_ok(project, "main.py", "trainer.deterministic=true", *SHORT)
        (new,) = set(project.glob("logs/runs/*/metrics.json")) - before
        results.append(json.loads(new.read_text()))
    assert results[0] == results[1]


def test_search_prunes_trials_and_counts_them_as_optuna_does(rendered):
    import optuna

    project = rendered(task_type="binary", logger="mlflow")
    trials = 5
    before = mlflow_runs(project)
    run_ok(
        project, "main.py", "-m", "hparams_search=optuna", f"hydra.sweeper.n_trials={trials}",
        # Prune any trial worse than nearly all earlier ones, from the second trial and epoch.
        "hydra.sweeper.pruner._target_=optuna.pruners.PercentilePruner",
        "+hydra.sweeper.pruner.percentile=99.9", "hydra.sweeper.pruner.n_startup_trials=1",
        "hydra.sweeper.pruner.n_warmup_steps=0", "trainer.max_epochs=6", *SHORT[1:],
    )  # fmt: skip
    study = optuna.load_study(study_name="train", storage=f"sqlite:///{project}/logs/optuna.db")
    states = [trial.state for trial in study.trials]
    pruned = states.count(optuna.trial.TrialState.PRUNED)
    assert pruned >= 1
    assert pruned + states.count(optuna.trial.TrialState.COMPLETE) == trials
    assert optuna.trial.TrialState.FAIL not in states
    sweep = latest_sweep(project)
    statuses = [job["status"] for job in read_csv(sweep / "summary.csv")]
    assert statuses.count("pruned") == pruned
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["pruned_trials"] == pruned
    # In MLflow a pruned trial's run is KILLED (stopped on purpose), not FAILED.
    runs = [status for run, status in mlflow_runs(project).items() if run not in before]
    assert sorted(runs) == sorted(["KILLED"] * pruned + ["FINISHED"] * (trials - pruned))
