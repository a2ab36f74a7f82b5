"""Small data, many runs: the cost of a whole epoch and of a multirun job.

Per task type, on the bundled data, in one process (lightning is imported once):

- the project's epoch as configured: `train(cfg)` with the default callbacks (best and
  last checkpoints, early stopping, progress bar, model summary, test figure) and the
  project's logger, timed between epoch starts (training, validation, metrics, logging
  and checkpoint writes all fall inside);
- a careful hand-written epoch doing the same work: the same network and tensors, Adam,
  whole batches sliced from memory, validation loss and accuracy (or MSE), and
  `torch.save` of the weights when validation improves (best) and every epoch (last);
- the logger's share: the project's epoch with `~logger` against the same with the logger.

Repetitions alternate the contenders; medians are reported. `multirun_cost` times
`python main.py -m seed=1,...,N trainer.max_epochs=20` against the same with one seed,
so the per-job cost excludes the one-time start-up.

    python benchmarks/epoch_cost.py --project DIR [--epochs 30] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
# One log folder for the whole process: the MLflow store stays open across runs.
LOGS = Path(tempfile.mkdtemp(prefix="epoch-cost-"))


def project_epochs(project: Path, epochs: int, *overrides: str) -> list[float]:
    """Seconds of each epoch of `train(cfg)` in the rendered project, as configured."""
    from probes import EpochTimer
    from tests.conftest import compose_config

    train = sys.modules[f"{package_of(project)}.train"].train
    with tempfile.TemporaryDirectory() as run_dir:
        cfg = compose_config(
            Path(run_dir),
            [
                f"paths.log_dir={LOGS}",
                f"trainer.max_epochs={epochs}",
                "test=false",
                "print_config=false",
                "callbacks.early_stopping.patience=100000",  # run every epoch
                "+callbacks.epoch_timer._target_=probes.EpochTimer",
                *overrides,
            ],
        )
        EpochTimer.instances.clear()
        train(cfg)
        (timer,) = EpochTimer.instances
        return timer.epoch_times()[2:]  # the first epochs warm caches up


def hand_epochs(project: Path, epochs: int) -> list[float]:
    """Seconds of each epoch of a hand-written loop doing the same work."""
    from tests.conftest import compose_config

    package = package_of(project)
    import hydra

    build = sys.modules[f"{package}.models.build"]
    with tempfile.TemporaryDirectory() as run_dir:
        cfg = compose_config(Path(run_dir), [])
        datamodule = hydra.utils.instantiate(cfg.data, _convert_="all")
        datamodule.setup("fit")
        model = build.build_model(cfg.model, datamodule)  # the same network, sized alike
        net, task = model.net, model.TASK
        train, val = datamodule.data_train, datamodule.data_val
        batch = cfg.data.batch_size
        optimizer = torch.optim.Adam(net.parameters(), lr=cfg.model.optimizer.lr)
        if task == "binary":
            criterion = torch.nn.BCEWithLogitsLoss()
        elif task == "multiclass":
            criterion = torch.nn.CrossEntropyLoss()
        else:
            criterion = torch.nn.MSELoss()
            mean, std = train.targets.mean(), train.targets.std()

        def loss_of(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            if task == "binary":
                return criterion(out.squeeze(-1), y.float())
            if task == "multiclass":
                return criterion(out, y)
            return criterion(out.squeeze(-1), (y - mean) / std)

        best = float("inf")
        times = []
        rows = len(train)
        drop = rows % batch == 1
        for _ in range(epochs):
            start = time.perf_counter()
            net.train()
            order = torch.randperm(rows)
            for i in range(0, rows - (1 if drop else 0), batch):
                index = order[i : i + batch]
                optimizer.zero_grad()
                loss = loss_of(net(train.numbers[index], train.categories[index]), train.targets[index])
                loss.backward()
                optimizer.step()
            net.eval()
            with torch.no_grad():
                out = net(val.numbers, val.categories)
                val_loss = loss_of(out, val.targets).item()
                if task == "binary":
                    _ = ((out.squeeze(-1) > 0).long() == val.targets).float().mean().item()
                elif task == "multiclass":
                    _ = (out.argmax(-1) == val.targets).float().mean().item()
                else:
                    _ = ((out.squeeze(-1) * std + mean - val.targets) ** 2).mean().item()
            if val_loss < best:
                best = val_loss
                torch.save(net.state_dict(), Path(run_dir) / "best.pt")
            torch.save(net.state_dict(), Path(run_dir) / "last.pt")
            times.append(time.perf_counter() - start)
        return times[2:]


def package_of(project: Path) -> str:
    answers = (project / ".copier-answers.yml").read_text()
    return next(
        line.split(":", 1)[1].strip().strip('"')
        for line in answers.splitlines()
        if line.startswith("package_name:")
    )


def epoch_cost(project: Path, epochs: int, reps: int) -> dict[str, Any]:
    """Medians over alternated repetitions: project (logger as configured), project
    without a logger, hand-written; milliseconds per epoch."""
    sys.path[:0] = [str(project), str(HERE)]
    os.chdir(project)
    package = package_of(project)
    import importlib

    importlib.import_module("main")
    importlib.import_module(f"{package}.train")
    importlib.import_module(f"{package}.models.build")
    sys.modules[f"{package}.utils.pylogger"].quiet_library_output()
    samples: dict[str, list[float]] = {"project": [], "project, no logger": [], "hand": []}
    for _ in range(reps):
        samples["hand"] += hand_epochs(project, epochs)
        samples["project"] += project_epochs(project, epochs)
        samples["project, no logger"] += project_epochs(project, epochs, "~logger")
    ms = {name: 1000 * statistics.median(values) for name, values in samples.items()}
    return {
        "epoch_ms": ms,
        "ratio_to_hand": ms["project"] / ms["hand"],
        "logger_ms_per_epoch": ms["project"] - ms["project, no logger"],
    }


def multirun_cost(project: Path, jobs: int = 6, epochs: int = 20) -> dict[str, float]:
    """Seconds per extra 20-epoch job of a multirun (start-up counted once)."""

    def timed(seeds: str) -> float:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "main.py", "-m", f"seed={seeds}", f"trainer.max_epochs={epochs}",
             "print_config=false"],
            cwd=project, check=True, capture_output=True,
        )  # fmt: skip
        return time.perf_counter() - start

    one = timed("1")
    many = timed(",".join(str(i) for i in range(1, jobs + 1)))
    return {"one_job_s": one, f"{jobs}_jobs_s": many, "per_extra_job_s": (many - one) / (jobs - 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True, type=Path)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--multirun", action="store_true", help="also time a 6-job multirun")
    args = parser.parse_args()
    project = args.project.resolve()
    result = epoch_cost(project, args.epochs, args.reps)
    if args.multirun:
        result["multirun"] = multirun_cost(project)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
