"""What every variant renders: the right files for its answers, clean and lint-free."""

import re
import subprocess
import sys

import pytest
import yaml

from .conftest import LOGGERS, SIZES, TASKS, TRAINED_VARIANTS, VARIANTS, computed, variant_id

JINJA = re.compile(r"\{\{|\}\}|\{%|%\}|\{#")
LOGGER_PACKAGES = {"mlflow": "mlflow", "tensorboard": "tensorboard", "wandb": "wandb"}
# Words that only one task's code uses: a rendered project must hold none of another task's.
TASK_WORDS = {
    "binary": [r"\bBinary", r"\bauroc"],
    "multiclass": [r"\bMulticlass"],
    "regression": [r"\bmse", r"\bR2Score", r"\btarget_mean", r"\bRegressor"],
}


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_variant_renders_only_what_its_answers_need(rendered, answers):
    project = rendered(**answers)
    files = [p for p in project.rglob("*") if p.is_file()]
    for path in files:
        if path.suffix in {".csv"}:
            continue
        text = path.read_text()
        assert not JINJA.search(text), f"unrendered Jinja in {path.relative_to(project)}"
        assert not path.name.endswith(".jinja")
        assert "\n\n\n\n" not in text, f"Jinja left blank lines in {path.relative_to(project)}"

    logger = answers["logger"]
    logger_files = sorted(p.stem for p in (project / "config" / "logger").glob("*.yaml"))
    assert logger_files == ([] if logger == "none" else [logger])
    assert (project / "config" / "logger").is_dir() == (logger != "none"), "empty folder"
    config = yaml.safe_load((project / "config" / "config.yaml").read_text())
    assert {"logger": None if logger == "none" else logger} in config["defaults"]
    assert {"experiment": None} in config["defaults"] and {"debug": None} in config["defaults"]
    assert "optional local" in {
        k for entry in config["defaults"] if isinstance(entry, dict) for k in entry
    }

    pyproject = (project / "pyproject.toml").read_text()
    for name, package in LOGGER_PACKAGES.items():
        assert (f'"{package}>=' in pyproject) == (name == logger), f"{package} dependency"

    data = sorted(p.name for p in (project / "data").glob("*.csv"))
    assert data == [computed("data_file", **answers)]
    assert (project / "data").stat().st_size and (project / "data" / data[0]).stat().st_size < 1e6

    model = yaml.safe_load((project / "config" / "model" / "model.yaml").read_text())
    expected = {"small": [64], "medium": [128, 64], "large": [256, 128, 64]}[answers["net_size"]]
    assert model["net"]["hidden_sizes"] == expected


def test_every_variant_is_ruff_clean(rendered):
    projects = [str(rendered(**answers)) for answers in VARIANTS]
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--no-cache", *projects],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_variants_cover_every_choice():
    """TASKS, LOGGERS and SIZES are read from copier.yml, so a new choice joins the variants."""
    assert {a["logger"] for a in VARIANTS} == set(LOGGERS) and "mlflow" in LOGGERS
    assert {a["net_size"] for a in VARIANTS} == set(SIZES) and "small" in SIZES
    assert len({(a["task_type"], a["logger"]) for a in VARIANTS}) == len(TASKS) * len(LOGGERS)
    # The trained variants: every logger, every task with the default logger and another.
    assert {a["logger"] for a in TRAINED_VARIANTS} == set(LOGGERS)
    assert {a["net_size"] for a in TRAINED_VARIANTS} == set(SIZES)
    assert {a["task_type"] for a in TRAINED_VARIANTS if a["logger"] == LOGGERS[0]} == set(TASKS)
    assert {a["task_type"] for a in TRAINED_VARIANTS if a["logger"] != LOGGERS[0]} == set(TASKS)


@pytest.mark.parametrize("task", TASKS)
def test_no_code_for_other_tasks(rendered, task):
    """Task-specific code lives in files chosen by name; no other task's code is rendered."""
    project = rendered(task_type=task)
    assert (project / "my_project" / "models" / f"{task}.py").is_file()
    others = [word for other in TASKS if other != task for word in TASK_WORDS[other]]
    for path in project.rglob("*.py"):
        text = path.read_text()
        for word in others:
            assert not re.search(word, text), f"{path.relative_to(project)} has {word}"
    assert not re.search("jinja|{%", (project / "my_project/models/ligmod.py").read_text())
