"""Where a multirun job's time goes: wall milliseconds per job in named functions.

Runs `python main.py -m seed=1,...,N trainer.max_epochs=20` of a rendered project in
this process (main.py executed as __main__, as Hydra needs), with timing wrappers around
the project's and Lightning's functions that a job calls once or twice. Prints, for each,
the first job (which also opens the MLflow store and imports matplotlib) and the median
of the later jobs. Times are inclusive: `train()` contains `fit`, which contains the
epochs.

    python benchmarks/job_profile.py --project DIR [--jobs 6] [--epochs 20]
"""

from __future__ import annotations

import argparse
import importlib
import os
import runpy
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from epoch_cost import package_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True, type=Path)
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    project = args.project.resolve()
    os.chdir(project)
    sys.path.insert(0, str(project))
    package = package_of(project)
    from lightning.pytorch import Trainer
    from lightning.pytorch.callbacks import RichModelSummary, RichProgressBar
    from lightning.pytorch.loops.fit_loop import _FitLoop

    train_module = importlib.import_module(f"{package}.train")
    figures = importlib.import_module(f"{package}.utils.figures")
    spent: dict[str, dict[int, float]] = {}
    job = [0]

    def wrap(owner: Any, attribute: str, name: str) -> None:
        function = getattr(owner, attribute)

        def timed(*a: Any, **k: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*a, **k)
            finally:
                by_job = spent.setdefault(name, {})
                by_job[job[0]] = by_job.get(job[0], 0.0) + time.perf_counter() - start

        setattr(owner, attribute, timed)

    train = train_module.train

    def counted(*a: Any, **k: Any) -> Any:
        job[0] += 1
        return train(*a, **k)

    train_module.train = counted
    wrap(train_module, "train", "train()")
    wrap(Trainer, "fit", "  trainer.fit")
    wrap(_FitLoop, "run", "    the epochs (_FitLoop.run)")
    wrap(Trainer, "_run_sanity_check", "    sanity check")
    wrap(RichModelSummary, "on_fit_start", "    model summary")
    wrap(Trainer, "test", "  trainer.test")
    wrap(figures.TestFigure, "on_test_end", "    test figure")
    wrap(RichProgressBar, "teardown", "  progress bar teardown (fit and test)")
    for name in ("instantiate_loggers", "log_hyperparameters", "instantiate_callbacks",
                 "build_model", "report_columns", "print_run_summary"):  # fmt: skip
        wrap(train_module, name, f"  {name}")
    try:
        logger_module = importlib.import_module(f"{package}.utils.mlflow_logger")
        wrap(logger_module.MLFlowLogger, "finalize", "  MLflow finalize (fit and test)")
    except ImportError:
        pass
    seeds = ",".join(str(i) for i in range(1, args.jobs + 1))
    sys.argv = ["main.py", "-m", f"seed={seeds}", f"trainer.max_epochs={args.epochs}",
                "print_config=false", "callbacks.early_stopping.patience=100000"]  # fmt: skip
    start = time.perf_counter()
    runpy.run_path("main.py", run_name="__main__")
    total = time.perf_counter() - start
    print(f"load average {os.getloadavg()[0]:.1f}; {args.jobs} jobs in {total:.1f} s")
    for name, by_job in spent.items():
        later = [by_job.get(j, 0.0) for j in range(2, args.jobs + 1)]
        print(
            f"{name:<42} first job {1000 * by_job.get(1, 0.0):8.1f} ms   "
            f"later jobs (median) {1000 * statistics.median(later):8.1f} ms"
        )


if __name__ == "__main__":
    main()
