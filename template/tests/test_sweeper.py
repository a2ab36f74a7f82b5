"""The grid sweeper runs every combination, composes each job's config once, and checks
every job's config before the first job runs."""

import pickle
from pathlib import Path

import pytest
from hydra._internal.callbacks import Callbacks
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.utils import create_config_search_path
from hydra.core.plugins import Plugins
from hydra.errors import ConfigCompositionException
from hydra.types import HydraContext, RunMode

from .conftest import CONFIG_DIR


class CountingLoader(ConfigLoaderImpl):
    """Hydra's config loader, counting the job configs it composes."""

    composed = 0

    def load_sweep_config(self, master_config, sweep_overrides):
        self.composed += 1
        return super().load_sweep_config(master_config, sweep_overrides)


def sweep(tmp_path: Path, *arguments: str) -> tuple[list[tuple], CountingLoader, object]:
    """Run a multirun's sweep in this process; the jobs only record their values."""
    loader = CountingLoader(config_search_path=create_config_search_path(str(CONFIG_DIR)))
    overrides = [f"hydra.sweep.dir={tmp_path}", "hydra.job.chdir=false"]
    config = loader.load_configuration("config", overrides, RunMode.MULTIRUN)
    jobs: list[tuple] = []
    sweeper = Plugins.instance().instantiate_sweeper(
        config=config,
        hydra_context=HydraContext(config_loader=loader, callbacks=Callbacks()),
        task_function=lambda cfg: jobs.append((cfg.seed, cfg.model.optimizer.lr)),
    )
    sweeper.sweep(list(arguments))
    return jobs, loader, sweeper


def test_every_combination_composed_once(tmp_path):
    jobs, loader, _ = sweep(tmp_path, "seed=1,2", "model.optimizer.lr=0.1,0.2")
    assert sorted(jobs) == [(1, 0.1), (1, 0.2), (2, 0.1), (2, 0.2)]
    assert loader.composed == 4  # Hydra's basic sweeper composes each job twice
    assert len(list(tmp_path.glob("[0-9]*"))) == 4, "each job has its folder"


def test_batches_and_repeated_jobs_are_composed_once(tmp_path):
    jobs, loader, sweeper = sweep(tmp_path, "seed=1,1,2", "hydra.sweeper.max_batch_size=2")
    assert sorted(jobs) == [(1, 0.001), (1, 0.001), (2, 0.001)]
    assert loader.composed == 3
    # Jobs in other processes (submitit) get the loader without the kept configs.
    sweeper.validate_batch_is_legal([["seed=3"], ["seed=4"]])
    assert len(sweeper.configs.ready) == 2
    sent = pickle.loads(pickle.dumps(sweeper.configs))
    assert not sent.ready and isinstance(sent.loader, CountingLoader)


def test_a_bad_value_stops_the_sweep_before_any_job(tmp_path):
    with pytest.raises(ConfigCompositionException, match="nonexistent"):
        sweep(tmp_path, "seed=1,2", "data=data,nonexistent")
    assert not list(tmp_path.glob("[0-9]*")), "no job ran"
