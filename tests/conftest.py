"""Render projects from this template (real Copier) and run them (real subprocesses)."""

import os
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
import yaml
from copier import run_copy

TEMPLATE = Path(__file__).resolve().parents[1]
# A git identity for commits the tests make in temporary repositories.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}

COPIER = yaml.safe_load((TEMPLATE / "copier.yml").read_text())


def choices(question: str) -> tuple[str, ...]:
    """The values a question of copier.yml offers, in its order."""
    return tuple(COPIER[question]["choices"].values())


def computed(name: str, **answers) -> str:
    """A `when: false` value of copier.yml, rendered for these answers."""
    return jinja2.Template(COPIER[name]["default"]).render(**answers).strip()


TASKS = choices("task_type")
LOGGERS = choices("logger")
SIZES = choices("net_size")
# All task x logger pairs; the net sizes rotate through them so each size is run too.
VARIANTS = [
    {"task_type": task, "logger": logger, "net_size": SIZES[i % len(SIZES)]}
    for i, (task, logger) in enumerate((t, lg) for t in TASKS for lg in LOGGERS)
]
# The variants that train (each run pays the ~7 s import of lightning): the default logger
# with every task, and every other logger once, the tasks and net sizes rotating through
# them. The logger code is the same for every task; only the metric names differ.
TRAINED_PAIRS = {(task, LOGGERS[0]) for task in TASKS} | {
    (TASKS[i % len(TASKS)], logger) for i, logger in enumerate(LOGGERS[1:], start=1)
}
TRAINED_VARIANTS = [a for a in VARIANTS if (a["task_type"], a["logger"]) in TRAINED_PAIRS]


def variant_id(answers: dict) -> str:
    return "-".join(str(answers[key]) for key in ("task_type", "logger", "net_size"))


def render(destination: Path, **answers) -> Path:
    """copier copy --defaults of the working tree, exactly as a user runs it (no --trust)."""
    run_copy(
        str(TEMPLATE),
        destination,
        data=answers,
        defaults=True,
        unsafe=False,
        quiet=True,
        vcs_ref="HEAD",
    )
    return destination


@pytest.fixture(scope="session")
def rendered(tmp_path_factory):
    """Render each set of answers once per test session (per xdist worker)."""
    cache: dict[str, Path] = {}

    def get(**answers) -> Path:
        key = variant_id(
            {"task_type": "binary", "logger": "mlflow", "net_size": "small", **answers}
        )
        if key not in cache:
            cache[key] = render(tmp_path_factory.mktemp(key) / "project", **answers)
        return cache[key]

    return get


def run(project: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a command of the rendered project with this interpreter (run_ok: must succeed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "WANDB_"))}
    env.update(PYTHONUNBUFFERED="1", COLUMNS="120", WANDB_SILENT="true")
    result = subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result


def run_ok(project: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    result = run(project, *args, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )
    return result
