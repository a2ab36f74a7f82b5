"""Hydra's basic sweeper (every combination of the swept values), composing each job once.

Before launching a batch of jobs (all of them, unless `max_batch_size` is set), the
basic sweeper composes every job's config to check that all of them can be built: a bad
value in the last job stops the multirun before the first job trains. The launcher then
composes each config again, reading and merging the whole config tree. This sweeper keeps
what the check composed and hands it to the launcher, so each job is composed once and
the check stays: on the bundled data each extra job of a 20-epoch multirun costs 0.7 s
instead of 0.9 s. `hydra/sweeper=basic` selects Hydra's own.

Launchers that run jobs in other processes (submitit, for SLURM) compose each job's
config where it runs; the kept configs are then not used, and are not sent to the jobs.
"""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

# Configs kept per batch, at about 0.2 MiB each; a larger batch composes the rest twice.
KEPT_AT_MOST = 100


class ComposedConfigs:
    """A config loader that returns configs composed in advance, then composes as usual."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.ready: dict[tuple[str, ...], list[DictConfig]] = defaultdict(list)

    def compose_batch(self, master_config: DictConfig, batch: Sequence[Sequence[str]]) -> None:
        """Compose every job's config (raising Hydra's error for a bad one); keep some."""
        self.ready.clear()
        for number, overrides in enumerate(batch):
            config = self.loader.load_sweep_config(master_config, list(overrides))
            if number < KEPT_AT_MOST:
                self.ready[tuple(overrides)].append(config)

    def load_sweep_config(
        self, master_config: DictConfig, sweep_overrides: list[str]
    ) -> DictConfig:
        ready = self.ready.get(tuple(sweep_overrides))
        if ready:
            return ready.pop()  # each composed config is used by one job only
        return self.loader.load_sweep_config(master_config, sweep_overrides)

    def __getstate__(self) -> dict[str, Any]:
        # Jobs in other processes compose their own config: send them the loader only.
        return {"loader": self.loader, "ready": defaultdict(list)}

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
        self.configs.compose_batch(self.config, batch)
