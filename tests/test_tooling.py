"""Tooling of generated projects: offline pre-commit hooks, one ruff version, the GPU preset."""

import re

import yaml
from hydra import compose, initialize_config_dir

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from .conftest import TEMPLATE

EXACT_RUFF = re.compile(r"^ruff==(\d+\.\d+\.\d+)$")


def pinned_ruff(requirements: list[str]) -> str:
    """The version of the one `ruff==X.Y.Z` in requirements (no range, no second entry)."""
    ruff = [req for req in requirements if re.match(r"^ruff\b", req)]
    assert len(ruff) == 1, f"expected one ruff requirement, got {ruff}"
    match = EXACT_RUFF.match(ruff[0])
    assert match, f"ruff must be pinned to one exact version, got {ruff[0]!r}"
    return match.group(1)


def test_pre_commit_runs_the_installed_ruff_offline(rendered):
    project = rendered()
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"], "hooks must not be cloned"
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert hooks["ruff-check"]["entry"] == "ruff check --fix"
    assert hooks["ruff-format"]["entry"] == "ruff format"
    for hook in hooks.values():
        assert hook["language"] == "system" and hook["types"] == ["python"]


def test_ruff_is_pinned_to_the_same_version_in_projects_and_template(rendered):
    project = rendered()
    dev = tomllib.loads((project / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["dev"]
    own = tomllib.loads((TEMPLATE / "pyproject.toml").read_text())["dependency-groups"]["test"]
    own = [req for req in own if isinstance(req, str)]
    assert pinned_ruff(dev) == pinned_ruff(own)


def test_gpu_trainer_composes_with_mixed_precision(rendered):
    project = rendered()
    with initialize_config_dir(config_dir=str(project / "config"), version_base="1.3"):
        cfg = compose("config", overrides=["trainer=gpu"])
    assert cfg.trainer.accelerator == "gpu" and cfg.trainer.devices == 1
    assert cfg.trainer.precision == "16-mixed"
    assert cfg.trainer._target_ == "lightning.pytorch.Trainer"  # still built on default.yaml
    comments = (project / "config" / "trainer" / "gpu.yaml").read_text()
    assert "bf16-mixed" in comments and "torch.set_float32_matmul_precision" in comments
