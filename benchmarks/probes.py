"""Lightning callbacks that time the benchmarks from inside a run.

`EpochTimer` times training epochs in-process (see run.py). `FirstStepProbe` is added
to a real `python main.py` run through a Hydra override,
`+callbacks.first_step._target_=probes.FirstStepProbe` with this folder on PYTHONPATH:
at the first training batch it writes wall-clock timestamps to the file named by
$BENCH_PROBE_FILE and ends the process, so a start-up measurement does not wait for
the whole training run.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from lightning.pytorch.callbacks import Callback


class EpochTimer(Callback):
    """Per-epoch wall time of `trainer.fit`, without any per-batch hook.

    An epoch lasts from its `on_train_epoch_start` to the next epoch's (or to
    `on_train_end` for the last one), so it includes what the LightningModule does at
    epoch end (computing torchmetrics, logging) and the optimizer scheduler's step.
    Every instance is kept in `EpochTimer.instances`, so a timer built by Hydra from the
    project's own config can be read back after `train(cfg)` returns.
    """

    instances: list[EpochTimer] = []

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.cpu_starts: list[float] = []
        self.steps: list[int] = []
        self.end: float | None = None
        self.cpu_end: float | None = None
        self.module: Any = None
        EpochTimer.instances.append(self)

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self.starts.append(time.perf_counter())
        self.cpu_starts.append(time.process_time())
        self.steps.append(trainer.global_step)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self.end = time.perf_counter()
        self.cpu_end = time.process_time()
        self.steps.append(trainer.global_step)
        self.module = pl_module

    def epoch_times(self) -> list[float]:
        """Wall-clock seconds of each epoch."""
        return _spans([*self.starts, self.end])

    def epoch_cpu_times(self) -> list[float]:
        """CPU seconds of this process (all its threads) in each epoch."""
        return _spans([*self.cpu_starts, self.cpu_end])

    def epoch_steps(self) -> list[int]:
        return [b - a for a, b in zip(self.steps, self.steps[1:], strict=False)]


def _spans(bounds: list[float | None]) -> list[float]:
    if bounds[-1] is None:
        raise RuntimeError("training did not finish")
    return [b - a for a, b in zip(bounds, bounds[1:], strict=False)]


class FirstStepProbe(Callback):
    """Writes {mark: time.time()} at each stage up to the first training batch, then exits."""

    def __init__(self) -> None:
        self.path = os.environ["BENCH_PROBE_FILE"]
        self.marks = {"callbacks_built": time.time()}

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self.marks["fit_start"] = time.time()

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.marks["train_start"] = time.time()

    def on_train_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int
    ) -> None:
        self.marks["first_batch"] = time.time()
        with open(self.path, "w") as file:
            json.dump(self.marks, file)
        # Skip the rest of the run (and interpreter teardown): the measurement is done.
        os._exit(0)
