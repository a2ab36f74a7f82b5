"""From one run to many: DDP, SLURM's runner, Optuna, evaluate and predict."""

import json
import sqlite3

import pytest
import yaml

from .conftest import render, run_ok

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return render(tmp_path_factory.mktemp("scale") / "project", logger="csv")


def test_ddp_on_two_cpu_processes(project):
    result = run_ok(project, "main.py", "trainer=ddp_sim", "debug=fdr", "print_config=false")
    assert "distributed_backend=gloo" in result.stdout + result.stderr
    assert result.stdout.count("Run summary") == 1, "only rank zero prints"
    assert "│ acc " in result.stdout


def test_submitit_local_runs_each_job_and_writes_the_summary(project):
    run_ok(
        project, "main.py", "-m", "hydra/launcher=local", "model.optimizer.lr=1e-3,1e-4",
        "debug=fdr", "print_config=false",
    )  # fmt: skip
    (sweep,) = [d for d in project.glob("logs/multiruns/*") if (d / ".submitit").exists()]
    summary = (sweep / "summary.csv").read_text().splitlines()
    assert len(summary) == 3 and "model.optimizer.lr" in summary[0] and "test/acc" in summary[0]
    assert {row.split(",")[1] for row in summary[1:]} == {"0.001", "0.0001"}


def test_parallel_jobs_create_a_new_mlflow_store_together(tmp_path):
    """The local launcher starts both jobs at once; each would create the new store's
    tables and the experiment, and one failed on the other's tables before the lock."""
    project = render(tmp_path / "project", logger="mlflow")
    run_ok(
        project, "main.py", "-m", "hydra/launcher=local", "seed=1,2", "debug=limit",
        "print_config=false",
    )  # fmt: skip
    with sqlite3.connect(project / "logs" / "mlflow.db") as db:
        runs = db.execute(
            "SELECT runs.status FROM runs JOIN experiments USING (experiment_id) "
            "WHERE experiments.name = 'my_project'"
        ).fetchall()
    assert runs == [("FINISHED",), ("FINISHED",)]


def test_optuna_search_reports_and_resumes_its_study(project):
    search = ["main.py", "-m", "hparams_search=optuna", "debug=fdr", "print_config=false"]
    first = run_ok(project, *search, "hydra.sweeper.n_trials=2")
    assert "Best value" in first.stdout + first.stderr
    second = run_ok(project, *search, "hydra.sweeper.n_trials=3")
    assert "2 of 3 trials done" in second.stdout + second.stderr
    with sqlite3.connect(project / "logs" / "optuna.db") as db:
        (done,) = db.execute("select count(*) from trials where state = 'COMPLETE'").fetchone()
    assert done == 3
    results = [
        yaml.safe_load(p.read_text())
        for p in project.glob("logs/multiruns/*/optimization_results.yaml")
    ]
    assert sorted(r["finished_trials"] for r in results) == [2, 3]


def test_evaluate_reproduces_test_metrics_and_predict_writes_every_row(tmp_path):
    project = render(tmp_path / "project", task_type="multiclass", logger="none")
    run_ok(project, "main.py", "trainer.max_epochs=3", "print_config=false")
    (trained,) = project.glob("logs/runs/*/metrics.json")
    (best,) = trained.parent.glob("checkpoints/epoch_*.ckpt")

    run_ok(project, "main.py", "train=false", f"ckpt_path={best}", "print_config=false")
    (evaluated,) = [p for p in project.glob("logs/runs/*/metrics.json") if p != trained]
    before, after = json.loads(trained.read_text()), json.loads(evaluated.read_text())
    test_keys = [key for key in before if key.startswith("test/")]
    assert test_keys
    for key in test_keys:
        assert abs(before[key] - after[key]) <= 1e-6, key

    rows = (project / "data/penguins.csv").read_text().splitlines()
    inputs = tmp_path / "new.csv"
    inputs.write_text("\n".join(",".join(r.split(",")[1:]) for r in rows[:26]) + "\n")
    output = tmp_path / "out" / "predictions.csv"
    result = run_ok(
        project, "predict.py", f"ckpt_path={best}", f"input={inputs}", f"output={output}"
    )
    assert "Wrote 25 predictions" in result.stdout
    lines = output.read_text().splitlines()
    assert lines[0].endswith("predicted_label,predicted_probability") and len(lines) == 26
    assert {line.split(",")[-2] for line in lines[1:]} <= {"Adelie", "Chinstrap", "Gentoo"}
    assert not list(project.glob("predictions.csv")) and not list(project.glob("outputs"))


def test_ddp_tests_on_the_exact_test_set(project):
    """Two processes test the same rows as one (85 rows; DistributedSampler would pad to 86)."""
    run_ok(project, "main.py", "trainer.max_epochs=2", "print_config=false")
    (best,) = project.glob("logs/runs/*/checkpoints/epoch_*.ckpt")
    metrics = {}
    for trainer in ("default", "ddp_sim"):
        before = set(project.glob("logs/runs/*/metrics.json"))
        run_ok(project, "main.py", "train=false", f"ckpt_path={best}", f"trainer={trainer}",
               "print_config=false")  # fmt: skip
        (new,) = set(project.glob("logs/runs/*/metrics.json")) - before
        metrics[trainer] = json.loads(new.read_text())
    for key, value in metrics["default"].items():
        if key.startswith(("test/", "baseline/")):
            assert abs(metrics["ddp_sim"][key] - value) <= 1e-5, key
