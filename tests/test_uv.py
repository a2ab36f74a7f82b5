"""A generated project installs and runs with uv as well as with pip (see its README)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import render

pytestmark = pytest.mark.slow


def check(command: list, cwd: Path, env: dict, timeout: float = 300) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )
    return result.stdout


def test_project_installs_and_runs_with_uv(tmp_path):
    project = render(tmp_path / "project")
    venv = tmp_path / ".venv"
    python = venv / "bin" / "python"
    uv = [sys.executable, "-m", "uv"]
    # No outer environment leaks in: uv and pip see only the new venv.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VIRTUAL_ENV", "UV_", "CONDA", "MLFLOW_", "WANDB_"))
    }
    env.update(PYTHONUNBUFFERED="1", WANDB_SILENT="true")

    check([sys.executable, "-m", "venv", venv], tmp_path, env)
    # The pinned CPU build (a local wheel here): uv then keeps it, as torch>=2.2 is met.
    check([python, "-m", "pip", "install", "--quiet", "torch==2.13.0"], tmp_path, env)
    check([*uv, "pip", "install", "--python", python, "-e", f"{project}[dev]"], tmp_path, env)

    # `uv sync` resolves the project for every platform (metadata only, no install).
    check([*uv, "lock"], project, env)
    assert (project / "uv.lock").is_file()
    (project / "uv.lock").unlink()

    tests = check(
        [python, "-m", "pytest", "-q", "-m", "not slow", "-p", "no:cacheprovider"], project, env
    )
    assert " passed" in tests and "failed" not in tests
    config = check([python, "main.py", "--cfg", "job"], project, env)
    assert "task_name: train" in config

    # The README's CPU path: `uv run --no-sync` uses the environment as installed.
    env_uv = {**env, "UV_PROJECT_ENVIRONMENT": str(venv)}
    config = check([*uv, "run", "--no-sync", "python", "main.py", "--cfg", "job"], project, env_uv)
    assert "task_name: train" in config
    assert not (project / "uv.lock").exists(), "uv run --no-sync must not lock"

    # The pre-commit hooks run the venv's pinned ruff, with nothing to download.
    check(["git", "init", "-q"], project, env)
    check(["git", "add", "-A"], project, env)
    hooks_env = {
        **env,
        "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit"),
    }
    hooks = check([venv / "bin" / "pre-commit", "run", "--all-files"], project, hooks_env)
    assert "ruff check --fix" in hooks and "ruff format" in hooks
