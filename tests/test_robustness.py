"""Bad data, bad config values and interrupted runs: one clear sentence, nothing lost."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from .conftest import render, run, run_ok

pytestmark = pytest.mark.slow

GOOD = "f1,f2,label\n" + "".join(f"{i},{i % 7},{'yes' if i % 2 else 'no'}\n" for i in range(40))

# (table text or None for no file, extra overrides, words the message must contain)
DATA_CASES = {
    "missing file": (None, [], ["data.path", "no file at", "nowhere.csv", "current directory"]),
    "no target column": ("a,b\n1,2\n3,4\n", [], ["data.target", "no column 'label'", "a, b"]),
    "text forced numeric": (
        GOOD.replace("f2,label\n0,0", "f2,label\n0,x"),
        ["data.numeric=[f2]"],
        ["'f2' holds text such as 'x'", "data.numeric"],
    ),
    "missing values refused": (
        "f1,f2,label\n1,,yes\n2,3,\n4,5,no\n,6,yes\n",
        ["data.missing=error"],
        ["missing values", "f1: 1", "f2: 1", "label: 1", "data.missing=impute"],
    ),
    "target only": ("label\n" + "yes\nno\n" * 20, [], ["no usable feature column"]),
    "target all blank": ("f1,label\n1,\n2,\n3,\n", [], ["blank in every row"]),
    "beyond float32": (
        GOOD.replace("f2,label\n0,0", "f2,label\n0,1e39"),
        [],
        ["'f2'", "3.4e38", "data.drop=[f2]"],
    ),
    "bad option": (GOOD, ["data.class_weights=sometimes"], ["data.class_weights", "balanced"]),
    "task mismatch": (GOOD, ["data.task=regression"], ["data.task is 'regression'", "binary"]),
    "unknown format": ("x", [], ["not a table file", ".parquet"]),
    "split counts": (GOOD, ["data.train_val_test_split=[20,10,5]"], ["sum to 35", "40 rows"]),
    "split fractions": (GOOD, ["data.train_val_test_split=[0.5,0.2,0.2]"], ["sum to 0.9", "not 1"]),
    "empty split": (GOOD, ["data.train_val_test_split=[0.9,0.1,0.0]"], ["empty split"]),
    "one class": (
        "f1,label\n1,yes\n2,yes\n3,yes\n4,yes\n5,yes\n6,yes\n",
        [],
        ["only one class", "yes"],
    ),
    "too many classes": (
        "f1,label\n" + "".join(f"{i},{'abc'[i % 3]}\n" for i in range(30)),
        [],
        ["3 classes", "binary", "multiclass"],
    ),
    "empty file": ("", [], ["is empty", "header"]),
    "header only": ("f1,f2,label\n", [], ["no data rows"]),
    "ragged rows": ("f1,label\n1,yes\n2,no,extra,more\n", [], ["not a readable .csv file"]),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return render(tmp_path_factory.mktemp("robust") / "project", logger="mlflow")


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_bad_data_stops_with_one_sentence_before_training(project, tmp_path, case):
    text, overrides, words = DATA_CASES[case]
    name = {"missing file": "nowhere.csv", "unknown format": "my.xlsx"}.get(case, "my.csv")
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    runs_before = set(project.glob("logs/runs/*"))
    result = run(project, "main.py", f"data.path={path}", "data.target=label", *overrides)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("Error: ")
    for word in words:
        assert word in message, message
    assert set(project.glob("logs/runs/*")) == runs_before, "a run folder was left behind"
    assert not (project / "logs" / "mlflow.db").exists(), "a logger run was started"


def test_regression_target_must_be_numeric(tmp_path):
    project = render(tmp_path / "project", task_type="regression", logger="none")
    (tmp_path / "my.csv").write_text(GOOD)
    result = run(project, "main.py", f"data.path={tmp_path / 'my.csv'}", "data.target=label")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "'label' is not numeric" in result.stderr and "regression" in result.stderr


def test_failed_run_is_marked_failed_in_mlflow_and_says_where_its_logs_are(project):
    result = run(project, "main.py", "model.optimizer.lr=-1", "print_config=false")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: Run failed; its log and checkpoints are in "), last
    assert "Invalid learning rate" in result.stdout + result.stderr, "the cause is shown"
    assert "HYDRA_FULL_ERROR" not in result.stderr
    with sqlite3.connect(project / "logs" / "mlflow.db") as db:
        statuses = [status for (status,) in db.execute("select status from runs")]
    assert statuses == ["FAILED"]


def test_runs_started_together_get_different_folders(project):
    command = [sys.executable, "main.py", "--cfg", "all", "--resolve", "--package", "hydra.run.dir"]
    procs = [
        subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, text=True) for _ in range(3)
    ]
    dirs = {proc.communicate()[0].strip() for proc in procs}
    assert len(dirs) == 3, dirs


@pytest.mark.parametrize(
    ("stop", "status"),
    [(signal.SIGINT, "KILLED"), (signal.SIGTERM, "FAILED"), (signal.SIGKILL, "RUNNING")],
    ids=["ctrl-c", "sigterm", "kill"],
)
def test_interrupted_run_resumes_from_an_intact_last_checkpoint(tmp_path, stop, status):
    """Ctrl-C closes the MLflow run as killed (stopped on purpose) and SIGTERM as failed;
    a kill cannot close it. Either way
    last.ckpt is complete and the run continues from it, in the same MLflow run."""
    import torch

    project = render(tmp_path / "project", logger="mlflow")
    args = ["trainer.max_epochs=4", "data.batch_size=2", "~callbacks.early_stopping"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "main.py", *args, "print_config=false"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not list(project.glob("logs/runs/*/checkpoints/last.ckpt")):
        assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint was written"
        time.sleep(0.05)
    proc.send_signal(stop)
    assert proc.wait(timeout=60) != 0
    (last,) = project.glob("logs/runs/*/checkpoints/last.ckpt")
    stopped_at = torch.load(last, weights_only=True)["epoch"]
    assert stopped_at < 3, "the run finished before it was stopped"
    with sqlite3.connect(project / "logs" / "mlflow.db") as db:
        assert db.execute("select status from runs").fetchall() == [(status,)]

    run_ok(project, "main.py", *args, f"ckpt_path={last}", "print_config=false")
    # The resumed run keeps writing into the stopped run's checkpoint folder.
    assert list(project.glob("logs/runs/*/checkpoints/last.ckpt")) == [last]
    final = torch.load(last, weights_only=True)
    assert final["epoch"] == 3
    (best,) = last.parent.glob("epoch_*.ckpt")
    assert torch.load(best, weights_only=True)["epoch"] <= 3
    assert not list(project.glob("logs/runs/*/checkpoints/.last.ckpt.*")), "staging file left"
    with sqlite3.connect(project / "logs" / "mlflow.db") as db:
        runs = db.execute("select status from runs").fetchall()
        epochs = db.execute("select max(value) from metrics where key = 'epoch'").fetchone()
    assert runs == [("FINISHED",)], "the resumed run continues the killed run's MLflow run"
    assert epochs == (4.0,), "the logged epoch count reaches max_epochs"


def test_no_secret_reaches_the_project(tmp_path):
    secret = "wandb-key-that-must-not-leak-1234567890"
    project = render(tmp_path / "project", logger="wandb")
    env = {**os.environ, "WANDB_API_KEY": secret, "WANDB_SILENT": "true"}
    result = subprocess.run(
        [sys.executable, "main.py", "debug=limit", "print_config=false"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    leaks = [
        str(path.relative_to(project))
        for path in project.rglob("*")
        if path.is_file() and secret.encode() in path.read_bytes()
    ]
    assert not leaks, leaks
