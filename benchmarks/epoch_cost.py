"""Small data, many runs: the cost of a whole epoch and of a multirun job.

Per task type, on the bundled data, in one process (lightning is imported once):

- the project's epoch as configured: `train(cfg)` with the default callbacks (best and
  last checkpoints, early stopping, progress bar, model summary, test figure) and the
  project's logger, timed between epoch starts (training, validation, metrics, logging
  and checkpoint writes all fall inside);
- a careful hand-written epoch doing the same work: the same network and tensors, Adam,
  whole batches sliced from memory, validation loss and accuracy (or MSE), and
  `torch.save` of the weights when validation improves (best) and every epoch (last);
- the logger's share: the project's epoch with `~logger` against the same with the logger;
- the project with last.ckpt written after every epoch (`every_seconds=0`), as the
  hand-written epoch does, rather than at most once a second (the default);
- Lightning's own cost: the hand-written epoch's work as a bare LightningModule (no
  callbacks, no logger), then with its three `self.log` calls, then with Lightning's
  ModelCheckpoint keeping the best and last checkpoints after every epoch.

Repetitions alternate the contenders (in reversed order every other time); medians of
wall and CPU (time.process_time) milliseconds are reported, with 1-minute load
averages. `multirun_cost` times `python main.py -m seed=1,...,N trainer.max_epochs=20`
against the same with one seed, so the per-job cost excludes the one-time start-up.

    python benchmarks/epoch_cost.py --project DIR [--epochs 30] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from lightning import LightningModule

HERE = Path(__file__).resolve().parent
# One log folder for the whole process: the MLflow store stays open across runs.
LOGS = Path(tempfile.mkdtemp(prefix="epoch-cost-"))


Times = tuple[list[float], list[float]]  # (wall seconds, CPU seconds) of each epoch


def project_epochs(project: Path, epochs: int, *overrides: str) -> Times:
    """Wall and CPU seconds of each epoch of `train(cfg)` in the rendered project."""
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
        # The first epochs warm caches up.
        return timer.epoch_times()[2:], timer.epoch_cpu_times()[2:]


def hand_epochs(project: Path, epochs: int) -> Times:
    """Wall and CPU seconds of each epoch of a hand-written loop doing the same work, with
    the project's torch_threads."""
    from tests.conftest import compose_config

    package = package_of(project)
    import hydra

    build = sys.modules[f"{package}.models.build"]
    with tempfile.TemporaryDirectory() as run_dir:
        cfg = compose_config(Path(run_dir), [])
        if cfg.get("torch_threads"):
            torch.set_num_threads(cfg.torch_threads)
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
        times, cpu_times = [], []
        rows = len(train)
        drop = rows % batch == 1
        for _ in range(epochs):
            start, cpu_start = time.perf_counter(), time.process_time()
            net.train()
            order = torch.randperm(rows)
            for i in range(0, rows - (1 if drop else 0), batch):
                index = order[i : i + batch]
                optimizer.zero_grad()
                loss = loss_of(
                    net(train.numbers[index], train.categories[index]), train.targets[index]
                )
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
            cpu_times.append(time.process_time() - cpu_start)
        return times[2:], cpu_times[2:]


def floor_epochs(project: Path, epochs: int, level: str) -> Times:
    """The hand-written epoch's work as a bare LightningModule: Lightning's own cost.

    level "loop": training_step and a validation_step computing loss and accuracy, no
    logging, no callbacks, no checkpoint; "log": also `self.log` of train/loss, val/loss
    and val/acc once per epoch; "ckpt": also Lightning's ModelCheckpoint keeping the best
    (val/loss) and the last checkpoint after every epoch. Same network, data, optimizer
    and Trainer config (and torch_threads) as the project.
    """
    import hydra
    import lightning as L
    from probes import EpochTimer

    from tests.conftest import compose_config

    build = sys.modules[f"{package_of(project)}.models.build"]
    with tempfile.TemporaryDirectory() as run_dir:
        cfg = compose_config(Path(run_dir), [])
        if cfg.get("torch_threads"):
            torch.set_num_threads(cfg.torch_threads)
        datamodule = hydra.utils.instantiate(cfg.data, _convert_="all")
        datamodule.setup("fit")
        project_model = build.build_model(cfg.model, datamodule)
        module = _FloorModule(project_model, cfg.model.optimizer.lr, logs=level != "loop")
        timer = EpochTimer()
        callbacks: list[Any] = [timer]
        if level == "ckpt":
            from lightning.pytorch.callbacks import ModelCheckpoint

            callbacks += [
                ModelCheckpoint(dirpath=run_dir, monitor="val/loss", save_top_k=1),
                ModelCheckpoint(dirpath=run_dir, filename="last", monitor=None),
            ]
        L.seed_everything(cfg.seed, verbose=False)
        trainer = hydra.utils.instantiate(
            cfg.trainer,
            max_epochs=epochs,
            callbacks=callbacks,
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            enable_checkpointing=level == "ckpt",
            default_root_dir=run_dir,
            _convert_="all",
        )
        trainer.fit(module, datamodule=datamodule)
        return timer.epoch_times()[2:], timer.epoch_cpu_times()[2:]


class _FloorModule(LightningModule):
    def __init__(self, project_model: Any, lr: float, logs: bool) -> None:
        super().__init__()
        self.net, self.task, self.logs = project_model.net, project_model.TASK, logs
        self.criterion = project_model.criterion
        self.lr = lr
        self.kept: dict[str, list[torch.Tensor]] = {"train": [], "val": [], "acc": []}

    def _loss(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        numbers, categories, targets = batch
        out = self.net(numbers, categories)
        if self.task == "binary":
            return self.criterion(out.squeeze(-1), targets.float()), (
                (out.squeeze(-1) > 0).long() == targets
            ).float().mean()
        if self.task == "multiclass":
            return self.criterion(out, targets), (out.argmax(-1) == targets).float().mean()
        loss = torch.nn.functional.mse_loss(out.squeeze(-1), targets.float())
        return loss, loss

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss, _ = self._loss(batch)
        self.kept["train"].append(loss.detach())
        return loss

    def on_train_epoch_end(self) -> None:
        loss = torch.stack(self.kept["train"]).mean()
        self.kept["train"].clear()
        if self.logs:
            self.log("train/loss", loss)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        loss, accuracy = self._loss(batch)
        self.kept["val"].append(loss)
        self.kept["acc"].append(accuracy)

    def on_validation_epoch_end(self) -> None:
        loss = torch.stack(self.kept["val"]).mean()
        accuracy = torch.stack(self.kept["acc"]).mean()
        self.kept["val"].clear()
        self.kept["acc"].clear()
        if self.logs:
            self.log("val/loss", loss)
            self.log("val/acc", accuracy)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.net.parameters(), lr=self.lr)


def package_of(project: Path) -> str:
    answers = (project / ".copier-answers.yml").read_text()
    return next(
        line.split(":", 1)[1].strip().strip('"')
        for line in answers.splitlines()
        if line.startswith("package_name:")
    )


def profile_project(project: Path, epochs: int) -> dict[str, float]:
    """CPU milliseconds per epoch (this thread's time.thread_time, so not MLflow's writer
    thread) spent in named Lightning and project functions during `train(cfg)` as
    configured. Times are inclusive: a function's time contains that of what it calls
    (e.g. the epoch loops contain the steps and the hooks)."""
    import importlib

    sys.path[:0] = [str(project), str(HERE)]
    os.chdir(project)
    package = package_of(project)
    importlib.import_module("main")
    importlib.import_module(f"{package}.train")
    sys.modules[f"{package}.utils.pylogger"].quiet_library_output()
    ligmod = importlib.import_module(f"{package}.models.ligmod").LigMod
    last = importlib.import_module(f"{package}.utils.last_checkpoint").LastCheckpoint
    from lightning.pytorch import LightningModule, Trainer
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, RichProgressBar
    from lightning.pytorch.loops.evaluation_loop import _EvaluationLoop
    from lightning.pytorch.loops.optimization.automatic import _AutomaticOptimization
    from lightning.pytorch.loops.training_epoch_loop import _TrainingEpochLoop
    from lightning.pytorch.trainer.connectors.logger_connector.logger_connector import (
        _LoggerConnector,
    )

    targets = {
        "Lightning _TrainingEpochLoop.run (training part of the epoch, all inside)": (
            _TrainingEpochLoop, "run"),
        "  Lightning _AutomaticOptimization.run (step, backward, optimizer; per batch)": (
            _AutomaticOptimization, "run"),
        "    project LigMod.training_step": (ligmod, "training_step"),
        "Lightning _EvaluationLoop.run (validation, all inside)": (_EvaluationLoop, "run"),
        "  project LigMod.validation_step": (ligmod, "validation_step"),
        "project LigMod._log_epoch (metrics + self.log, train and val)": (ligmod, "_log_epoch"),
        "  Lightning LightningModule.log (every self.log call)": (LightningModule, "log"),
        "Lightning _LoggerConnector.update_train_epoch_metrics": (
            _LoggerConnector, "update_train_epoch_metrics"),
        "Lightning _LoggerConnector.update_eval_epoch_metrics": (
            _LoggerConnector, "update_eval_epoch_metrics"),
        "Lightning _LoggerConnector.log_metrics (hands metrics to the logger)": (
            _LoggerConnector, "log_metrics"),
        "Lightning Trainer.save_checkpoint (every checkpoint write)": (
            Trainer, "save_checkpoint"),
        "Lightning ModelCheckpoint.on_train_epoch_end (best and last)": (
            ModelCheckpoint, "on_train_epoch_end"),
        "project LastCheckpoint.on_train_epoch_end": (last, "on_train_epoch_end"),
        "Lightning EarlyStopping.on_train_epoch_end": (EarlyStopping, "on_train_epoch_end"),
        "Lightning RichProgressBar.on_train_batch_end": (RichProgressBar, "on_train_batch_end"),
        "Lightning RichProgressBar.on_train_epoch_start": (
            RichProgressBar, "on_train_epoch_start"),
        "Lightning RichProgressBar.on_validation_batch_end": (
            RichProgressBar, "on_validation_batch_end"),
        "Lightning RichProgressBar.on_validation_end": (RichProgressBar, "on_validation_end"),
        "Lightning RichProgressBar.on_train_epoch_end": (RichProgressBar, "on_train_epoch_end"),
    }  # fmt: skip
    spent = dict.fromkeys(targets, 0.0)
    calls = dict.fromkeys(targets, 0)
    originals = {}

    def timed(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.thread_time() - start
                calls[name] += 1

        return wrapper

    for name, (owner, attribute) in targets.items():
        function = owner.__dict__.get(attribute)
        if function is None:  # not defined on this class (e.g. inherited): skip
            continue
        originals[(owner, attribute)] = function
        setattr(owner, attribute, timed(name, function))
    try:
        project_epochs(project, 5)  # warm-up
        for name in spent:
            spent[name], calls[name] = 0.0, 0
        cpu_start = time.process_time()
        project_epochs(project, epochs)
        total = time.process_time() - cpu_start
    finally:
        for (owner, attribute), function in originals.items():
            setattr(owner, attribute, function)
    result = {name: 1000 * value / epochs for name, value in spent.items()}
    result |= {f"{name}: calls per epoch": calls[name] / epochs for name in spent}
    result["train(cfg) with test=false (setup and fit), process CPU"] = 1000 * total / epochs
    return result


def load_average() -> float:
    """The 1-minute load average (other processes on a shared machine inflate wall times)."""
    return os.getloadavg()[0]


def epoch_cost(project: Path, epochs: int, reps: int) -> dict[str, Any]:
    """Medians over alternated repetitions: hand-written, project (logger as configured),
    project without a logger; wall and CPU milliseconds per epoch."""
    sys.path[:0] = [str(project), str(HERE)]
    os.chdir(project)
    package = package_of(project)
    import importlib

    importlib.import_module("main")
    importlib.import_module(f"{package}.train")
    importlib.import_module(f"{package}.models.build")
    sys.modules[f"{package}.utils.pylogger"].quiet_library_output()
    contenders = {
        "hand": lambda: hand_epochs(project, epochs),
        "project": lambda: project_epochs(project, epochs),
        "project, no logger": lambda: project_epochs(project, epochs, "~logger"),
        "project, last.ckpt every epoch": lambda: project_epochs(
            project, epochs, "callbacks.last_checkpoint.every_seconds=0"
        ),
        "lightning loop": lambda: floor_epochs(project, epochs, "loop"),
        "lightning loop + log": lambda: floor_epochs(project, epochs, "log"),
        "lightning loop + log + checkpoints": lambda: floor_epochs(project, epochs, "ckpt"),
    }
    wall: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    loads = [load_average()]
    for rep in range(reps):
        # Alternate the order too, so no contender always runs right after another.
        names = list(contenders) if rep % 2 == 0 else list(reversed(contenders))
        for name in names:
            w, c = contenders[name]()
            wall[name] += w
            cpu[name] += c
        loads.append(load_average())
    ms = {name: 1000 * statistics.median(values) for name, values in wall.items()}
    cpu_ms = {name: 1000 * statistics.median(values) for name, values in cpu.items()}
    return {
        "epoch_ms": ms,
        "epoch_cpu_ms": cpu_ms,
        "ratio_to_hand": ms["project"] / ms["hand"],
        "ratio_to_hand_last_every_epoch": ms["project, last.ckpt every epoch"] / ms["hand"],
        "cpu_ratio_to_hand": cpu_ms["project"] / cpu_ms["hand"],
        "logger_ms_per_epoch": ms["project"] - ms["project, no logger"],
        "logger_cpu_ms_per_epoch": cpu_ms["project"] - cpu_ms["project, no logger"],
        "load_1min": loads,
    }


def multirun_cost(project: Path, jobs: int = 6, epochs: int = 20, reps: int = 1) -> dict[str, Any]:
    """Seconds per extra 20-epoch job of a multirun (start-up counted once): medians of
    `reps` alternated pairs of a 1-job and a `jobs`-job multirun, wall and CPU (the
    child's user + system time)."""

    def timed(seeds: str) -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "main.py", "-m", f"seed={seeds}", f"trainer.max_epochs={epochs}",
             "print_config=false", "callbacks.early_stopping.patience=100000"],
            cwd=project, check=True, capture_output=True,
        )  # fmt: skip
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    ones, manys, loads = [], [], [load_average()]
    for rep in range(reps):
        pair = [("1", ones), (",".join(str(i) for i in range(1, jobs + 1)), manys)]
        for seeds, out in pair if rep % 2 == 0 else reversed(pair):
            out.append(timed(seeds))
        loads.append(load_average())
    one = [statistics.median(x) for x in zip(*ones, strict=True)]
    many = [statistics.median(x) for x in zip(*manys, strict=True)]
    return {
        "one_job_s": one[0],
        f"{jobs}_jobs_s": many[0],
        "per_extra_job_s": (many[0] - one[0]) / (jobs - 1),
        "one_job_cpu_s": one[1],
        f"{jobs}_jobs_cpu_s": many[1],
        "per_extra_job_cpu_s": (many[1] - one[1]) / (jobs - 1),
        "load_1min": loads,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True, type=Path)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--multirun", action="store_true", help="also time a 6-job multirun")
    parser.add_argument("--multirun-reps", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=6, help="jobs of the multirun")
    parser.add_argument("--job-epochs", type=int, default=20, help="epochs of each job")
    parser.add_argument("--out", type=Path, help="also write the JSON result here")
    parser.add_argument(
        "--profile", action="store_true", help="only: CPU ms per epoch in named functions"
    )
    args = parser.parse_args()
    project = args.project.resolve()
    if args.profile:
        profile = profile_project(project, args.epochs)
        width = max(map(len, profile))
        for name, value in profile.items():
            print(f"{name:<{width}}  {value:7.2f}" + ("" if "calls" in name else " ms"))
        if args.out:
            args.out.write_text(json.dumps(profile, indent=2) + "\n")
        return
    result = epoch_cost(project, args.epochs, args.reps)
    if args.multirun:
        result["multirun"] = multirun_cost(project, args.jobs, args.job_epochs, args.multirun_reps)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
