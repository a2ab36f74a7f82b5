"""Compose the project's Hydra config the way main.py does, for tests that run in-process."""

from collections.abc import Sequence
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

import main  # noqa: F401  (sets PROJECT_ROOT and registers the resolvers the config uses)

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"


def compose_config(output_dir: Path, overrides: Sequence[str] = ()) -> DictConfig:
    """The run config for `python main.py <overrides>`, writing only into output_dir."""
    overrides = [f"paths.log_dir={output_dir}", *overrides]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.hydra.job.num = 0
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        del cfg.hydra
    return cfg


@pytest.fixture
def make_config(tmp_path: Path):
    """compose_config bound to this test's temporary run directory."""

    def make(*overrides: str) -> DictConfig:
        return compose_config(tmp_path, overrides)

    return make
