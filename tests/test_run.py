"""Rendered projects run for real: python main.py in subprocesses, as a user runs it."""

import json
import math
import re
import socket
import sqlite3
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from .conftest import TASKS, TRAINED_VARIANTS, render, run, run_ok, variant_id
from .tables import TARGETS, write_messy_table

pytestmark = pytest.mark.slow


def only(paths: list[Path]) -> Path:
    assert len(paths) == 1, paths
    return paths[0]


def mlflow_metric(project: Path, key: str) -> list[float]:
    with sqlite3.connect(project / "logs" / "mlflow.db") as db:
        rows = db.execute("select value from metrics where key = ?", (key,)).fetchall()
    return [value for (value,) in rows]


def assert_logged(project: Path, logger: str, metric: str) -> None:
    """The chosen logger, and only it, has this run's metrics."""
    run_dir = only(list((project / "logs" / "runs").iterdir()))
    if logger == "mlflow":
        assert mlflow_metric(project, metric)
    if logger == "tensorboard":
        assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    if logger == "csv":
        assert metric in (run_dir / "csv" / "metrics.csv").read_text().splitlines()[0]
    if logger == "wandb":
        assert list((run_dir / "wandb").glob("offline-run-*"))
    present = {
        "mlflow": (project / "logs" / "mlflow.db").exists(),
        "tensorboard": (run_dir / "tensorboard").exists(),
        "csv": (run_dir / "csv").exists(),
        "wandb": (run_dir / "wandb").exists(),
    }
    assert {name for name, found in present.items() if found} == (
        set() if logger == "none" else {logger}
    )


@pytest.mark.parametrize("answers", TRAINED_VARIANTS, ids=variant_id)
def test_variant_trains_tests_and_logs(tmp_path, answers):
    project = render(tmp_path / "project", **answers)
    result = run_ok(project, "main.py", "debug=limit", "print_config=false")
    metric = "test/mse" if answers["task_type"] == "regression" else "test/acc"
    assert f"│ {metric.removeprefix('test/')} " in result.stdout, "the run summary shows it"
    assert_logged(project, answers["logger"], metric)

    import torch

    checkpoint = torch.load(
        only(list(project.glob("logs/runs/*/checkpoints/last.ckpt"))), weights_only=True
    )
    assert checkpoint["DataModule"]["preprocessor"]["roles"]


def test_default_project_reaches_090_test_accuracy_and_shows_its_results(tmp_path):
    project = render(tmp_path / "project")
    result = run_ok(project, "main.py")
    (accuracy,) = mlflow_metric(project, "test/acc")
    assert accuracy >= 0.90
    assert mlflow_metric(project, "val/acc_best")
    assert "Run summary" in result.stdout and "Tested checkpoint:" in result.stdout

    run_dir = only(list((project / "logs" / "runs").iterdir()))
    png = (run_dir / "confusion_matrix.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (500, 500)
    with sqlite3.connect(project / "logs" / "mlflow.db") as db:
        (run_id, status, artifact_uri) = db.execute(
            "select run_uuid, status, artifact_uri from runs"
        ).fetchone()
        params = dict(db.execute("select key, value from params").fetchall())
    assert status == "FINISHED" and params["model/optimizer/lr"] == "0.001"
    artifact = Path(artifact_uri.removeprefix("file://")) / "confusion_matrix.png"
    assert artifact.read_bytes() == png

    assert run_id in mlflow_ui_runs(project)


def mlflow_ui_runs(project: Path) -> str:
    """Start `mlflow ui` on the embedded store, as the README says, and list runs over HTTP."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri",
               "sqlite:///logs/mlflow.db", "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(
        command, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/2.0/mlflow/runs/search",
                    data=json.dumps({"experiment_ids": ["1"]}).encode(),
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    return response.read().decode()
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "mlflow ui did not answer"
                time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_seed_command_lines_work(tmp_path):
    """The tutorial's overrides, --multirun and experiment=..., in one sweep."""
    project = render(tmp_path / "project", logger="csv")
    run_ok(
        project,
        "main.py",
        "--multirun",
        "model.optimizer.lr=5e-3,5e-4",
        "experiment=example",
        "debug=fdr",
        "print_config=false",
    )
    jobs = sorted(project.glob("logs/multiruns/*/[0-9]"))
    assert [job.name for job in jobs] == ["0", "1"]
    lrs = []
    for job in jobs:
        config = yaml.safe_load((job / ".hydra" / "config.yaml").read_text())
        lrs.append(config["model"]["optimizer"]["lr"])
        assert config["task_name"] == "debug" and config["model"]["net"]["dropout"] == 0.1
    assert lrs == [5e-3, 5e-4]


def test_generated_project_tests_pass(rendered):
    project = rendered(task_type="multiclass", logger="tensorboard", net_size="medium")
    run_ok(project, "-m", "pytest", "-q", "-p", "no:cacheprovider")


def test_help_and_cfg_answer_without_torch(rendered):
    project = rendered()
    help_text = run_ok(project, "main.py", "--help").stdout
    assert "python main.py experiment=example" in help_text
    result = run_ok(project, "-X", "importtime", "main.py", "--cfg", "job")
    assert "model:" in result.stdout
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    assert "hydra" in imported and "torch" not in imported and "lightning" not in imported


def test_bad_data_path_fails_with_one_sentence(rendered):
    project = rendered()
    result = run(project, "main.py", "data.path=nowhere/missing.csv", "print_config=false")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "data.path: no file at" in result.stderr and "missing.csv" in result.stderr


@pytest.mark.parametrize("task", TASKS)
def test_messy_table_trains_with_no_option_and_predicts_raw_rows(tmp_path, task):
    """Text categories, blanks, an ID, dates and a constant: the run says what it did with
    each column, trains, and predict.py takes raw rows with an unseen category and blanks."""
    project = render(tmp_path / "project", task_type=task, logger="none")
    table = write_messy_table(task, tmp_path / "customers.csv")
    target = TARGETS[task]
    result = run_ok(
        project, "main.py", f"data.path={table}", f"data.target={target}",
        "trainer.max_epochs=30", "print_config=false",
    )  # fmt: skip
    out = result.stdout + result.stderr
    for column, role in [("customer_id", "left out"), ("city", "categorical"),
                         ("member", "categorical"), ("joined", "date"), ("age", "numeric"),
                         ("country", "left out"), (target, "target")]:  # fmt: skip
        assert re.search(rf"{column}\s+│ {role}", out), (column, role)
    assert "Dropped 3 of 300 rows whose target" in out
    assert "Left out column 'customer_id'" in out and "data.categorical=[customer_id]" in out
    run_dir = only(list((project / "logs" / "runs").iterdir()))
    columns = (run_dir / "columns.csv").read_text()
    assert "joined,date," in columns and "city,categorical," in columns
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert all(math.isfinite(value) for value in metrics.values())
    if task == "regression":
        assert metrics["test/r2"] > 0.5
    else:
        assert metrics["test/acc"] > 0.7

    rows = tmp_path / "new.csv"
    rows.write_text(
        "age,city,member,joined,store,extra\n"
        "35,Atlantis,True,2013/02/01,2,x\n"  # a city never seen in training
        ", Paris ,,,9,y\n"  # blanks, stray spaces, an unseen store code
    )
    output = tmp_path / "predictions.csv"
    (best,) = run_dir.glob("checkpoints/epoch_*.ckpt")
    run_ok(project, "predict.py", f"ckpt_path={best}", f"input={rows}", f"output={output}")
    predictions = output.read_text().splitlines()
    assert len(predictions) == 3 and predictions[0].startswith("age,city,member,joined,store,extra")
    if task == "regression":
        assert predictions[0].endswith("predicted_value")
    else:
        labels = {line.split(",")[-2] for line in predictions[1:]}
        assert labels <= set(messy_labels(task)), labels

    (tmp_path / "short.csv").write_text("age,city\n35,Paris\n")
    result = run(project, "predict.py", f"ckpt_path={best}", f"input={tmp_path / 'short.csv'}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no column(s) member, joined, store" in result.stderr


def messy_labels(task: str) -> list[str]:
    return {"binary": ["no", "yes"], "multiclass": ["basic", "plus", "premium"]}[task]


def test_loss_that_turns_nan_stops_the_run_with_one_line(rendered):
    project = rendered(task_type="regression", logger="mlflow")
    result = run(project, "main.py", "model.optimizer.lr=1e30", "print_config=false")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: the ") and "loss became nan" in last
    assert "model.optimizer.lr=1e+30" in last and "lower it" in last
    assert "Run failed; its log and checkpoints are in" in result.stderr + result.stdout


def test_no_callbacks_writes_nothing_outside_the_run_and_a_drawn_seed_is_logged(rendered):
    """callbacks=none means no checkpoint anywhere (not Lightning's default one beside the
    logger's files); seed=null draws a seed, uses it, prints and logs it."""
    project = rendered(logger="mlflow", net_size="medium")
    before = {p for p in project.rglob("*") if p.is_file()}
    result = run_ok(
        project, "main.py", "callbacks=none", "seed=null", "trainer.max_epochs=2", "test=false"
    )
    # Nothing was tested: no empty test table, no "Tested checkpoint".
    assert "Run summary" not in result.stdout and "Tested checkpoint" not in result.stdout
    new = {p.relative_to(project) for p in project.rglob("*") if p.is_file()} - {
        p.relative_to(project) for p in before
    }
    run_dir = only(list((project / "logs" / "runs").iterdir())).relative_to(project)
    # The logger's store, and the lock file that parallel jobs open it under.
    shared = {Path("logs/mlflow.db"), Path("logs/mlflow.db.lock"), Path("logs/mlflow-artifacts")}
    outside = [p for p in new if run_dir not in p.parents and not {p, *p.parents} & shared]
    assert not outside, outside
    assert not [p for p in new if p.suffix == ".ckpt"]
    assert "No checkpoint was saved" in result.stdout + result.stderr
    (seed,) = re.findall(
        r"Drew seed (\d+); repeat this run with seed=\1", result.stdout + result.stderr
    )
    with sqlite3.connect(project / "logs" / "mlflow.db") as db:
        params = dict(db.execute("select key, value from params").fetchall())
    assert params["seed"] == seed


FAIL_AT_EPOCH = '''
from lightning import Callback


class FailAtEpoch(Callback):
    """Raises at the start of epoch `epoch`: a run that fails mid-way."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("failing on purpose")
'''


def test_background_mlflow_logging_loses_no_metric_when_a_run_ends_or_fails(tmp_path):
    project = render(tmp_path / "project", task_type="regression", logger="mlflow")
    run_ok(project, "main.py", "trainer.max_epochs=6", "~callbacks.early_stopping",
           "print_config=false")  # fmt: skip
    (project / "fail_at_epoch.py").write_text(FAIL_AT_EPOCH)
    failed = run(project, "main.py", "trainer.max_epochs=6", "~callbacks.early_stopping",
                 "+callbacks.fail._target_=fail_at_epoch.FailAtEpoch", "+callbacks.fail.epoch=4",
                 "print_config=false")  # fmt: skip
    assert failed.returncode == 1
    with sqlite3.connect(project / "logs" / "mlflow.db") as db:
        runs = db.execute("select run_uuid, status from runs order by start_time").fetchall()
        steps = {
            status: sorted(
                step for (step,) in db.execute(
                    "select step from metrics where run_uuid = ? and key = 'val/loss'", (run_id,)
                )
            )
            for run_id, status in runs
        }  # fmt: skip
        tested = db.execute("select count(*) from metrics where key = 'test/mse'").fetchone()
    assert [status for _, status in runs] == ["FINISHED", "FAILED"]
    assert len(steps["FINISHED"]) == 6 and tested == (1,)
    assert len(steps["FAILED"]) == 4, "every epoch before the failure reached the store"
