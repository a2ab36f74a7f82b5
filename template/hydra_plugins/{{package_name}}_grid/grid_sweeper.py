"""Hydra's basic sweeper (every combination of the swept values), composing each job once.

Before launching, the basic sweeper composes every job's config to check that all of
them can be built: a bad value in the last job stops the multirun before the first job
trains. The launcher then composes each config again. Composing reads and merges the
whole config tree: on the bundled data a 20-epoch job took 0.9 s with the basic sweeper
and takes 0.7 s with this one, which keeps what the check composed and hands it to the
launcher, so each job is composed once and the check stays. `hydra/sweeper=basic`
selects Hydra's own.
"""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class ComposedConfigs:
    """A config loader that returns configs composed in advance, then composes as usual."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.ready: dict[tuple[str, ...], list[DictConfig]] = defaultdict(list)

    def compose_ahead(self, master_config: DictConfig, overrides: Sequence[str]) -> None:
        config = self.loader.load_sweep_config(master_config, list(overrides))
        self.ready[tuple(overrides)].append(config)

    def load_sweep_config(
        self, master_config: DictConfig, sweep_overrides: list[str]
    ) -> DictConfig:
        ready = self.ready.get(tuple(sweep_overrides))
        if ready:
            return ready.pop()  # each composed config is used by one job only
        return self.loader.load_sweep_config(master_config, sweep_overrides)

    def __getattr__(self, name: str) -> Any:
        if name in ("loader", "ready"):  # not set yet, e.g. while unpickling
            raise AttributeError(name)
        return getattr(self.loader, name)


class GridSweeper(BasicSweeper):
    """BasicSweeper (same options: `params`, `max_batch_size`) that composes each job once."""

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.configs = ComposedConfigs(hydra_context.config_loader)
        super().setup(
            hydra_context=HydraContext(self.configs, hydra_context.callbacks),
            task_function=task_function,
            config=config,
        )

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        for overrides in batch:
            self.configs.compose_ahead(self.config, overrides)
