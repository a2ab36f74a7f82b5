"""Every option of every config group composes and builds its objects."""

from pathlib import Path

import hydra
import pytest
import torch

from .conftest import CONFIG_DIR


def options(group: str) -> list[str]:
    return sorted(path.stem for path in (CONFIG_DIR / group).glob("*.yaml"))


def build_all(cfg):
    datamodule = hydra.utils.instantiate(cfg.data, _convert_="all")
    datamodule.setup("fit")
    model = hydra.utils.instantiate(
        cfg.model, net={"input_size": datamodule.num_features}, _convert_="all"
    )
    x, _ = next(iter(datamodule.train_dataloader()))
    assert model(x).shape[0] == len(x)
    return datamodule, model


def test_default_config_builds(make_config):
    cfg = make_config()
    datamodule, model = build_all(cfg)
    assert datamodule.num_features > 0
    assert cfg.model.net.hidden_sizes


GROUPS = ["trainer", "callbacks", "logger", "debug", "experiment", "model", "data"]


@pytest.mark.parametrize("group", [group for group in GROUPS if options(group)])
def test_every_option_composes(make_config, group):
    for option in options(group):
        cfg = make_config(f"{group}={option}")
        if group == "trainer" and cfg.trainer.accelerator not in ("cpu", "auto"):
            # A GPU trainer only composes here; it can be built on a machine with one.
            assert cfg.trainer.accelerator == "gpu" or not torch.cuda.is_available()
            continue
        hydra.utils.instantiate(cfg.trainer, _convert_="all")
        for entry in (cfg.get("callbacks") or {}).values():
            hydra.utils.instantiate(entry, _convert_="all")
        if group == "logger":  # building a logger can create its store: only here
            for entry in cfg.logger.values():
                hydra.utils.instantiate(entry, _convert_="all")
        build_all(cfg)


def test_paths_point_into_the_project(make_config, tmp_path: Path):
    cfg = make_config()
    assert Path(cfg.paths.output_dir) == tmp_path
    assert Path(cfg.data.path).is_file()
    assert Path(cfg.data.path).parent == CONFIG_DIR.parent / "data"
