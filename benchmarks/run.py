"""Benchmark a project rendered from this template, and check it against its targets.

    .venv/bin/python benchmarks/run.py            # full run (about 6 minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --quick    # fewer repetitions, smaller data
    .venv/bin/python benchmarks/run.py --smoke    # every contender once, tiny (about 1 minute)

Renders a fresh default project with Copier into a temporary folder, then measures:

1. training throughput of the generated DataModule + LigMod + Trainer against a
   hand-written PyTorch loop and the seed tutorial's pattern (in this process, the
   contenders alternating over several repetitions);
2. start-up: `main.py --help`, `main.py --cfg job` and the time to the first training
   step of `main.py`, against `python -c "import lightning"`;
3. the time of `copier copy --defaults`;
4. peak memory of a default training run against the hand-written loop;
5. scale (benchmarks/scale.py): a 1,000,000-row table with blanks and text categories
   through `pandas.read_csv`, the project's data path and `main.py` to the first step;
6. epochs (benchmarks/epoch_cost.py): on the bundled data of each task type, a whole
   epoch as configured against a hand-written epoch doing the same work, the logger's
   cost per epoch, and the cost per job of a multirun.

Prints a table and writes benchmarks/results.json (results-quick.json with --quick,
results-smoke.json with --smoke). `--smoke` only checks that every benchmark still runs:
its numbers mean nothing. See docs/performance.md for what each number means.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import logging
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
TEMPLATE_ROOT = BENCH_DIR.parent
PYTHON = sys.executable
COPIER = str(Path(sys.executable).parent / "copier")


@dataclass
class Settings:
    rows: int = 20_000
    features: int = 64
    reps: int = 5  # throughput repetitions per contender and batch size
    epochs: int = 4  # per throughput run; the first is excluded as warm-up
    large_batch: int = 256
    startup_reps: int = 5  # after `warmups` discarded runs
    render_reps: int = 5  # after `warmups` discarded runs
    warmups: int = 1
    # The first run of a fresh project, which creates logs/mlflow.db, reported apart.
    cold_start: bool = True
    memory_reps: int = 2  # peak RSS varies by < 1 MiB run to run
    memory_epochs: int = 5
    scale_rows: int = 1_000_000  # benchmarks/scale.py
    scale_reps: int = 3
    # benchmarks/epoch_cost.py, per task type on the bundled data
    epoch_epochs: int = 30  # per run; the first 2 are excluded as warm-up
    epoch_reps: int = 3  # alternated repetitions of each contender
    multirun_jobs: int = 6
    multirun_job_epochs: int = 20
    multirun_reps: int = 2  # alternated pairs of a 1-job and a multirun
    # torch intra-op threads for the in-process throughput runs (0: torch's default).
    # One thread: on a shared 2-core machine, torch's 2-thread default stalls at every
    # parallel op whenever another process holds a core (see docs/performance.md).
    threads: int = 1

    @classmethod
    def quick(cls) -> Settings:
        return cls(
            rows=4_000,
            reps=2,
            epochs=2,
            startup_reps=2,
            render_reps=2,
            memory_reps=1,
            memory_epochs=1,
            scale_rows=200_000,
            scale_reps=1,
            epoch_epochs=20,
            epoch_reps=2,
            multirun_reps=1,
        )

    @classmethod
    def smoke(cls) -> Settings:
        """Every contender once on tiny data: proves the benchmarks run, measures nothing."""
        return cls(
            rows=2_000,
            reps=1,
            epochs=2,
            startup_reps=1,
            render_reps=1,
            warmups=0,
            cold_start=False,
            memory_reps=1,
            memory_epochs=1,
            scale_rows=20_000,
            scale_reps=1,
            epoch_epochs=4,
            epoch_reps=1,
            multirun_jobs=2,
            multirun_job_epochs=2,
            multirun_reps=1,
        )


@dataclass
class Check:
    name: str
    value: str
    target: str
    passed: bool | None  # None: reported, no target


@dataclass
class Report:
    results: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


# -- machine -----------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    from importlib.metadata import version

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    for dist in ("torch", "lightning", "torchmetrics", "hydra-core", "copier", "mlflow", "pandas"):
        try:
            info[dist] = version(dist)
        except Exception:  # noqa: BLE001
            info[dist] = None
    return info


# -- rendering ---------------------------------------------------------------------


def render_project(dst: Path) -> tuple[Path, str]:
    """A default project rendered by real Copier from this repository's HEAD."""
    import copier
    import yaml

    copier.run_copy(
        str(TEMPLATE_ROOT), str(dst), defaults=True, unsafe=False, vcs_ref="HEAD", quiet=True
    )
    answers = yaml.safe_load((dst / ".copier-answers.yml").read_text())
    return dst, answers["package_name"]


def template_state(project: Path) -> dict[str, Any]:
    """What was rendered: HEAD, plus any uncommitted template changes.

    With vcs_ref="HEAD" Copier renders a dirty local repository's working tree (it
    commits the changes to its temporary clone), so HEAD alone may not say what ran.
    """
    import yaml

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=TEMPLATE_ROOT, capture_output=True, text=True
        ).stdout.strip()

    dirty = git("status", "--porcelain", "--", "copier.yml", "template")
    return {
        "head": git("rev-parse", "HEAD"),
        "copier_answers_commit": str(
            yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"]
        ),
        "uncommitted_template_changes": dirty.splitlines(),
    }


def bench_render(work: Path, s: Settings, report: Report) -> None:
    log(f"render: copier copy --defaults, {s.warmups} warm-up + {s.render_reps} timed")
    times = []
    for i in range(s.render_reps + s.warmups):
        dst = work / f"render-{i}"
        start = time.perf_counter()
        subprocess.run(
            [
                COPIER,
                "copy",
                "--quiet",
                "--defaults",
                "--vcs-ref",
                "HEAD",
                str(TEMPLATE_ROOT),
                str(dst),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if i >= s.warmups:
            times.append(time.perf_counter() - start)
        shutil.rmtree(dst)
    value = median(times)
    report.results["render"] = {"seconds": times, "median": value}
    report.checks.append(
        Check("render: `copier copy --defaults`", f"{value:.2f} s", "< 2 s", value < 2.0)
    )


# -- start-up ----------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "WANDB_"))}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


@dataclass
class Child:
    wall: float  # seconds from just before the fork to the child's exit
    cpu: float  # user + system CPU seconds of the child
    max_rss_mib: float
    start: float  # time.time() just before the fork


def run_child(
    cmd: list[str], cwd: Path, log_file: Path, env: dict[str, str] | None = None
) -> Child:
    """Run one child process; its wall time, CPU time and peak RSS come from os.wait4."""
    with open(log_file, "w") as sink:
        start_epoch, start = time.time(), time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env or clean_env(), stdout=sink, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{log_file.read_text()[-3000:]}")
    # ru_maxrss is in KiB on Linux.
    return Child(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, start_epoch)


PROBE = "+callbacks.first_step._target_=probes.FirstStepProbe"

# The default project with Lightning's CSVLogger instead of MLflow: what the logger costs.
CSV_LOGGER = (
    "~logger",
    "+logger.csv._target_=lightning.pytorch.loggers.CSVLogger",
    "+logger.csv.save_dir=${paths.output_dir}",
)


def time_to_first_step(project: Path, work: Path, *overrides: str) -> dict[str, float]:
    """Process start to the first on_train_batch_start of `python main.py [overrides]`.

    The run keeps every default (mlflow logger, callbacks, config printing, sanity
    check); one extra callback from benchmarks/probes.py records the time of each stage
    and ends the process at the first training batch, so `cpu` is the CPU time to it.
    """
    probe = work / "probe.json"
    probe.unlink(missing_ok=True)
    env = clean_env(PYTHONPATH=str(BENCH_DIR), BENCH_PROBE_FILE=str(probe))
    child = run_child([PYTHON, "main.py", PROBE, *overrides], project, work / "probe.log", env)
    if not probe.exists():
        raise RuntimeError(f"the probe did not fire:\n{(work / 'probe.log').read_text()[-3000:]}")
    marks = {name: stamp - child.start for name, stamp in json.loads(probe.read_text()).items()}
    return marks | {"cpu": child.cpu}


def bench_startup(project: Path, work: Path, s: Settings, report: Report) -> None:
    cold = None
    if s.cold_start:
        log("start-up: first `python main.py` in the fresh project (creates logs/mlflow.db)")
        cold = time_to_first_step(project, work)
    commands = {
        # The floor as a user types it; its wall time includes interpreter teardown.
        "import_lightning": [PYTHON, "-c", "import lightning"],
        # The same import, ended with os._exit like the first-step probe: the like-for-like
        # floor for the time to the first step.
        "import_lightning_only": [PYTHON, "-c", "import lightning, os; os._exit(0)"],
        # The same plus what the default logger imports before training: mlflow and its
        # SQL store (the store's module pulls in SQLAlchemy and Alembic).
        "import_lightning_mlflow": [
            PYTHON,
            "-c",
            "import lightning, mlflow, mlflow.store.tracking.sqlalchemy_store, os; os._exit(0)",
        ],
        "help": [PYTHON, "main.py", "--help"],
        "cfg_job": [PYTHON, "main.py", "--cfg", "job"],
    }
    log(
        f"start-up: {s.warmups} warm-up + {s.startup_reps} timed rounds of import lightning, "
        "--help, --cfg job, first step (MLflow, CSVLogger)"
    )
    names = [*commands, "first_step", "first_step_csv_logger"]
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    stages: list[dict[str, float]] = []
    for i in range(s.startup_reps + s.warmups):
        for name, cmd in commands.items():
            child = run_child(cmd, project, work / f"{name}.log")
            if i >= s.warmups:
                wall[name].append(child.wall)
                cpu[name].append(child.cpu)
        for name, overrides in (("first_step", ()), ("first_step_csv_logger", CSV_LOGGER)):
            marks = time_to_first_step(project, work, *overrides)
            if i >= s.warmups:
                wall[name].append(marks["first_batch"])
                cpu[name].append(marks["cpu"])
                if name == "first_step":
                    stages.append(marks)
    med = {name: median(values) for name, values in wall.items()}
    cpu_med = {name: median(values) for name, values in cpu.items()}
    stage_med = {name: median([m[name] for m in stages]) for name in stages[0]}
    report.results["startup"] = {
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "median_wall": med,
        "median_cpu": cpu_med,
        "first_step_stages_median": stage_med,
        "first_step_cold_fresh_mlflow_db": cold,
    }
    floor, literal = med["import_lightning_only"], med["import_lightning"]

    def vs_floor(name: str) -> str:
        return (
            f"{med[name]:.2f} s (floor + {med[name] - floor:.2f} s; CPU floor + "
            f"{cpu_med[name] - cpu_med['import_lightning_only']:.2f} s)"
        )

    report.checks += [
        Check(
            '`python -c "import lightning"` (wall, includes teardown)', f"{literal:.2f} s", "", None
        ),
        Check(
            "floor: same import, ended by os._exit like the probe",
            f"{floor:.2f} s (CPU {cpu_med['import_lightning_only']:.2f} s)",
            "",
            None,
        ),
        Check(
            "  floor + importing mlflow and its SQL store (what MLflow adds before any work)",
            f"{med['import_lightning_mlflow']:.2f} s (+ "
            f"{med['import_lightning_mlflow'] - floor:.2f} s; CPU + "
            f"{cpu_med['import_lightning_mlflow'] - cpu_med['import_lightning_only']:.2f} s)",
            "",
            None,
        ),
        Check("`python main.py --help`", f"{med['help']:.2f} s", "", None),
        Check(
            "`python main.py --cfg job`", f"{med['cfg_job']:.2f} s", "< 1.0 s", med["cfg_job"] < 1.0
        ),
        Check(
            "`python main.py`: process start to first training step",
            vs_floor("first_step"),
            f"<= floor + 2 s = {floor + 2:.2f} s",
            med["first_step"] <= floor + 2.0,
        ),
        Check(
            "  same against the teardown-inclusive `import lightning` wall time",
            f"{med['first_step']:.2f} s (+ {med['first_step'] - literal:.2f} s)",
            f"<= {literal + 2:.2f} s",
            med["first_step"] <= literal + 2.0,
        ),
        Check(
            "  same, first run of a fresh project (creates logs/mlflow.db)",
            f"{cold['first_batch']:.2f} s (floor + {cold['first_batch'] - floor:.2f} s)"
            if cold
            else "not measured",
            "",
            None,
        ),
        Check(
            "  same, Lightning's CSVLogger in place of MLflow (for comparison)",
            vs_floor("first_step_csv_logger"),
            "",
            None,
        ),
    ]


# -- memory ------------------------------------------------------------------------


def bench_memory(
    project: Path, package: str, work: Path, s: Settings, report: Report, defaults: dict[str, Any]
) -> None:
    epochs = s.memory_epochs
    main_cmd = [PYTHON, "main.py", f"trainer.max_epochs={epochs}"]
    commands = {
        "main_py": main_cmd,
        "main_py_csv_logger": [*main_cmd, *CSV_LOGGER],
        "hand_loop": [
            PYTHON,
            str(BENCH_DIR / "hand_loop.py"),
            "--project",
            str(project),
            "--package",
            package,
            "--csv",
            str(project / defaults["data_path"]),
            "--target",
            defaults["target"],
            "--epochs",
            str(epochs),
            "--batch-size",
            str(defaults["batch_size"]),
            "--lr",
            str(defaults["lr"]),
            "--weight-decay",
            str(defaults["weight_decay"]),
            "--hidden",
            *map(str, defaults["hidden_sizes"]),
        ],
        "import_lightning": [PYTHON, "-c", "import lightning"],
    }
    log(
        f"memory: {s.memory_reps} x (main.py trainer.max_epochs={epochs}, the same with "
        "CSVLogger, hand loop, import lightning)"
    )
    rss: dict[str, list[float]] = {name: [] for name in commands}
    secs: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(s.memory_reps):
        for name, cmd in commands.items():
            child = run_child(cmd, project, work / f"{name}.log")
            rss[name].append(child.max_rss_mib)
            secs[name].append(child.wall)
    med = {name: median(values) for name, values in rss.items()}
    report.results["memory"] = {
        "max_rss_mib": rss,
        "median_mib": med,
        "wall_seconds": secs,
        "epochs": epochs,
        "data": defaults["data_path"],
    }
    report.checks += [
        Check(
            f"peak RSS: `python main.py trainer.max_epochs={epochs}` (fit + test)",
            f"{med['main_py']:.0f} MiB",
            "",
            None,
        ),
        Check(
            "  same, Lightning's CSVLogger in place of MLflow (for comparison)",
            f"{med['main_py_csv_logger']:.0f} MiB",
            "",
            None,
        ),
        Check(
            f"peak RSS: hand-written loop, same data, {epochs} epochs + test",
            f"{med['hand_loop']:.0f} MiB",
            "",
            None,
        ),
        Check(
            'peak RSS: `python -c "import lightning"`',
            f"{med['import_lightning']:.0f} MiB",
            "",
            None,
        ),
    ]


# -- throughput ----------------------------------------------------------------------


def write_synthetic_csv(path: Path, rows: int, features: int, seed: int = 0) -> None:
    """Numeric features on mixed scales, a "yes"/"no" target that a small MLP can learn."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    z = rng.standard_normal((rows, features)).astype("float32")
    weights = rng.standard_normal(features) / math.sqrt(features)
    score = 2.5 * (z @ weights) + 0.8 * z[:, 0] * z[:, 1] + 0.3 * rng.standard_normal(rows)
    scales = 10.0 ** rng.uniform(-2, 3, features)
    offsets = rng.uniform(-50, 50, features)
    frame = pd.DataFrame(z * scales + offsets, columns=[f"f{i:02d}" for i in range(features)])
    frame["label"] = np.where(score > 0, "yes", "no")
    frame.to_csv(path, index=False, float_format="%.6g")


class Throughput:
    """The three contenders, built from the rendered project's composed config."""

    def __init__(self, project: Path, package: str, csv: Path, work: Path, s: Settings) -> None:
        import hydra
        import lightning  # noqa: F401  (import cost stays out of every timing)
        import torch

        sys.path.insert(0, str(project))
        importlib.import_module("main")  # sets PROJECT_ROOT, registers the ${pid:} resolver
        # The project's own way to compose `python main.py <overrides>` in-process.
        self.compose_config = importlib.import_module("tests.conftest").compose_config
        self.train_module = importlib.import_module(f"{package}.train")
        self.torch, self.hydra = torch, hydra
        self.project, self.csv, self.work, self.s = project, csv, work, s
        self.overrides = [
            f"paths.log_dir={work / 'logs'}",
            f"data.path={csv}",
            "data.target=label",
            "~logger",
            "callbacks=none",
            "+callbacks.epoch_timer._target_=probes.EpochTimer",
            "model.scheduler=null",  # ReduceLROnPlateau needs val/loss; validation is off
            "++trainer.limit_val_batches=0",
            "++trainer.num_sanity_val_steps=0",
            "++trainer.enable_checkpointing=false",
            "++trainer.enable_progress_bar=false",
            "++trainer.enable_model_summary=false",
            "test=false",
            "print_config=false",
            f"trainer.max_epochs={s.epochs}",
        ]
        # Messages of the project's own loggers (e.g. "no checkpoint saved", which is
        # expected with checkpointing off) would interleave with the benchmark's output.
        logging.getLogger(package).setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", ".*val_dataloader.*but have no.*validation_step.*")
        warnings.filterwarnings("ignore", ".*validation_step.*but have no.*val_dataloader.*")
        cfg = self.compose()
        self.default_batch = int(cfg.data.batch_size)
        # The data every contender trains on: the project's own split and scaling.
        datamodule = hydra.utils.instantiate(cfg.data, _convert_="all")
        datamodule.setup("fit")
        train, val = datamodule.data_train, datamodule.data_val
        self.x_train, self.c_train, self.y_train = train.numbers, train.categories, train.targets
        self.x_val, self.c_val, self.y_val = val.numbers, val.categories, val.targets
        self.classes = datamodule.target.classes
        self.n_train = len(self.y_train)
        # The network as models/build.py sizes it from the data (one logit: binary).
        self.net_sizes = {
            "numeric_features": datamodule.preprocessor.numeric_width,
            "category_sizes": datamodule.preprocessor.category_sizes,
            "output_size": datamodule.target.output_size,
        }
        self.net_cfg = cfg.model.net
        self.optimizer_cfg = cfg.model.optimizer

    def compose(self, *extra: str) -> Any:
        """The run config of `python main.py <overrides>`, as the project's tests compose it."""
        out = self.work / "run"
        out.mkdir(exist_ok=True)  # Hydra makes the run directory; compose() does not
        return self.compose_config(out, [*self.overrides, *extra])

    def accuracy(self, net: Any) -> float:
        with self.torch.no_grad():
            was = net.training
            net.eval()
            logits = net(self.x_val, self.c_val).squeeze(-1)
            acc = ((logits > 0).long() == self.y_val).float().mean().item()
            net.train(was)
        return acc

    def generated(self, batch: int) -> tuple[list[float], list[float], float]:
        from probes import EpochTimer

        EpochTimer.instances.clear()
        cfg = self.compose(f"data.batch_size={batch}")
        # train() may print (config, run summary); keep that out of the benchmark's output.
        with open(self.work / "train-stdout.log", "a") as sink, redirect_stdout(sink):
            self.train_module.train(cfg)
        (timer,) = EpochTimer.instances
        self._check_steps(timer.epoch_steps(), batch)
        return timer.epoch_times(), timer.epoch_cpu_times(), self.accuracy(timer.module.net)

    def tutorial(self, batch: int) -> tuple[list[float], list[float], float]:
        from tutorial_pattern import TutorialLigMod, row_loader

        loader = row_loader(self.x_train, self.c_train, self.y_train, batch)
        return self._bare_module(TutorialLigMod, batch, train_dataloaders=loader)

    def floor(self, batch: int) -> tuple[list[float], list[float], float]:
        from lightning_floor import FloorModule

        cfg = self.compose(f"data.batch_size={batch}")
        datamodule = self.hydra.utils.instantiate(cfg.data, _convert_="all")
        return self._bare_module(FloorModule, batch, datamodule=datamodule)

    def _bare_module(
        self, module_class: Any, batch: int, **fit_data: Any
    ) -> tuple[list[float], list[float], float]:
        """Train a benchmark LightningModule on the project's network, optimizer and trainer."""
        import lightning as L
        from probes import EpochTimer

        cfg = self.compose(f"data.batch_size={batch}")
        L.seed_everything(cfg.seed, workers=True, verbose=False)
        net = self.network()
        model = module_class(net=net, optimizer=self.hydra.utils.instantiate(self.optimizer_cfg))
        timer = EpochTimer()
        trainer = self.hydra.utils.instantiate(
            cfg.trainer, callbacks=[timer], logger=False, _convert_="all"
        )
        trainer.fit(model, **fit_data)
        self._check_steps(timer.epoch_steps(), batch)
        return timer.epoch_times(), timer.epoch_cpu_times(), self.accuracy(net)

    def hand(self, batch: int) -> tuple[list[float], list[float], float]:
        import hand_loop

        self.torch.manual_seed(42)
        net = self.network()
        times, cpu_times = hand_loop.train(
            net,
            self.x_train,
            self.c_train,
            self.y_train,
            batch_size=batch,
            lr=self.optimizer_cfg.lr,
            weight_decay=self.optimizer_cfg.weight_decay,
            epochs=self.s.epochs,
        )
        return times, cpu_times, self.accuracy(net)

    def network(self) -> Any:
        """The project's SimpleDenseNet from its config, sized as models/build.py does."""
        return self.hydra.utils.instantiate(self.net_cfg, **self.net_sizes, _convert_="all")

    def _check_steps(self, steps: list[int], batch: int) -> None:
        """Every contender must see every training row once per epoch."""
        expected = math.ceil(self.n_train / batch)
        if any(n != expected for n in steps):
            raise RuntimeError(
                f"expected {expected} steps per epoch, got {steps}; pick a "
                "row count whose training split does not leave a 1-row batch"
            )


CONTENDERS = {
    "generated": "generated project: DataModule + LigMod + Trainer (composed config)",
    "hand": "hand-written loop: TensorDataset + DataLoader + SimpleDenseNet + Adam",
    "tutorial": "seed tutorial pattern: row Dataset + metric objects called every step",
    "lightning_floor": "Lightning floor (no target): generated DataModule + Trainer, a "
    "LightningModule with no metrics or logging",
}


def bench_throughput(project: Path, package: str, work: Path, s: Settings, report: Report) -> None:
    import torch

    default_threads = torch.get_num_threads()
    if s.threads:
        torch.set_num_threads(s.threads)
    threads = torch.get_num_threads()
    csv = work / "synthetic.csv"
    write_synthetic_csv(csv, s.rows, s.features)
    bench = Throughput(project, package, csv, work, s)
    batches = [bench.default_batch, s.large_batch]
    log(
        f"throughput: {s.rows} rows x {s.features} features ({bench.n_train} training rows), "
        f"batch sizes {batches}, {s.reps} reps x {len(CONTENDERS)} contenders x {s.epochs} "
        f"epochs (first excluded), torch threads {threads}"
    )
    runs = {
        "generated": bench.generated,
        "hand": bench.hand,
        "tutorial": bench.tutorial,
        "lightning_floor": bench.floor,
    }
    names = list(runs)
    data: dict[str, Any] = {}
    for batch in batches:
        per = {
            n: {"sps": [], "cpu_sps": [], "acc": [], "epochs": [], "cpu_epochs": []} for n in names
        }
        for rep in range(s.reps):
            order = names[rep % len(names) :] + names[: rep % len(names)]  # rotate the order
            for name in order:
                gc.collect()
                times, cpu_times, acc = runs[name](batch)
                samples = bench.n_train * (len(times) - 1)
                sps, cpu_sps = samples / sum(times[1:]), samples / sum(cpu_times[1:])
                for key, value in (
                    ("sps", sps),
                    ("cpu_sps", cpu_sps),
                    ("acc", acc),
                    ("epochs", times),
                    ("cpu_epochs", cpu_times),
                ):
                    per[name][key].append(value)
                log(
                    f"  batch {batch:>3} rep {rep + 1}/{s.reps} {name:<15} {sps:>8.0f} samples/s"
                    f" (CPU-time {cpu_sps:>6.0f}; epochs {', '.join(f'{t:.3f}' for t in times)}"
                    f" s; val acc {acc:.3f}; load {os.getloadavg()[0]:.1f})"
                )
        med = {n: median(per[n]["sps"]) for n in names}
        cpu_med = {n: median(per[n]["cpu_sps"]) for n in names}
        data[str(batch)] = {
            "per_rep": per,
            "median_samples_per_s": med,
            "median_cpu_samples_per_s": cpu_med,
            "median_val_acc": {n: median(per[n]["acc"]) for n in names},
            "ratio_generated_to_hand": med["generated"] / med["hand"],
            "ratio_generated_to_tutorial": med["generated"] / med["tutorial"],
            "cpu_ratio_generated_to_hand": cpu_med["generated"] / cpu_med["hand"],
            "cpu_ratio_generated_to_tutorial": cpu_med["generated"] / cpu_med["tutorial"],
            "ratio_floor_to_hand": med["lightning_floor"] / med["hand"],
            "ratio_floor_to_tutorial": med["lightning_floor"] / med["tutorial"],
        }
    report.results["throughput"] = {
        "rows": s.rows,
        "features": s.features,
        "train_rows": bench.n_train,
        "epochs_per_run": s.epochs,
        "timed_epochs_per_run": s.epochs - 1,
        "reps": s.reps,
        "torch_threads": threads,
        "torch_default_threads": default_threads,
        "validation": "off for all contenders (trainer.limit_val_batches=0; no validation in "
        "the hand loop)",
        "overrides": bench.overrides,
        "default_batch_size": bench.default_batch,
        "classes": bench.classes,
        "by_batch_size": data,
        "contenders": CONTENDERS,
    }
    for batch in batches:
        d = data[str(batch)]
        med, cpu_med, acc = (
            d["median_samples_per_s"],
            d["median_cpu_samples_per_s"],
            d["median_val_acc"],
        )
        tag = "default " if batch == bench.default_batch else ""
        for n in names:
            report.checks.append(
                Check(
                    f"throughput, {tag}batch {batch}: {n}",
                    f"{med[n]:,.0f} samples/s (CPU-time {cpu_med[n]:,.0f}; val acc {acc[n]:.3f})",
                    "",
                    None,
                )
            )
        hand_target = 0.85 if batch == bench.default_batch else 1.0
        r_hand, r_tut = d["ratio_generated_to_hand"], d["ratio_generated_to_tutorial"]
        report.checks += [
            Check(
                f"  generated / hand-written, batch {batch}",
                f"{r_hand:.2f} (CPU-time {d['cpu_ratio_generated_to_hand']:.2f})",
                f">= {hand_target:.2f}",
                r_hand >= hand_target,
            ),
            Check(
                f"  generated / tutorial pattern, batch {batch}",
                f"{r_tut:.2f} (CPU-time {d['cpu_ratio_generated_to_tutorial']:.2f})",
                ">= 2.5",
                r_tut >= 2.5,
            ),
            Check(
                f"  Lightning floor / hand-written, batch {batch} (best any LightningModule gets)",
                f"{d['ratio_floor_to_hand']:.2f}",
                "",
                None,
            ),
            Check(
                f"  Lightning floor / tutorial pattern, batch {batch}",
                f"{d['ratio_floor_to_tutorial']:.2f}",
                "",
                None,
            ),
        ]


# -- report ------------------------------------------------------------------------


def table(checks: list[Check]) -> str:
    rows = [("measure", "result", "target", "pass")]
    for c in checks:
        verdict = "" if c.passed is None else ("PASS" if c.passed else "FAIL")
        rows.append((c.name, c.value, c.target, verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        "| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def bench_scale(project: Path, package: str, work: Path, s: Settings, report: Report) -> None:
    import scale

    results, checks = scale.bench_scale(project, package, work, s.scale_rows, s.scale_reps, log)
    report.results["scale"] = results
    report.checks += [Check(*check) for check in checks]
    startup = report.results.get("startup")
    if startup:  # the same command on the bundled data, timed in the start-up section
        bundled = startup["median_wall"]["first_step_csv_logger"]
        first = results["median_seconds"]["first_step"]
        results["first_step_minus_bundled_data"] = first - bundled
        report.checks.append(
            Check(
                "  same minus the run on the bundled data (start-up section, CSVLogger)",
                f"+{first - bundled:.2f} s ({bundled:.2f} s on the bundled data)",
                "",
                None,
            )
        )


TASK_TYPES = ("binary", "multiclass", "regression")


def bench_epochs(project: Path, work: Path, s: Settings, report: Report) -> None:
    """benchmarks/epoch_cost.py on the bundled data of each task type, each in its own
    process (the projects share a package name); the multirun on the default project."""
    import copier

    results: dict[str, Any] = {}
    for task in TASK_TYPES:
        dst = project if task == "binary" else work / f"project-{task}"
        if task != "binary":
            copier.run_copy(
                str(TEMPLATE_ROOT), str(dst), data={"task_type": task}, defaults=True,
                unsafe=False, vcs_ref="HEAD", quiet=True,
            )  # fmt: skip
        out = work / f"epoch-cost-{task}.json"
        cmd = [
            PYTHON, str(BENCH_DIR / "epoch_cost.py"), "--project", str(dst),
            "--epochs", str(s.epoch_epochs), "--reps", str(s.epoch_reps), "--out", str(out),
        ]  # fmt: skip
        if task == "binary":
            cmd += [
                "--multirun", "--jobs", str(s.multirun_jobs), "--job-epochs",
                str(s.multirun_job_epochs), "--multirun-reps", str(s.multirun_reps),
            ]  # fmt: skip
        log(
            f"epoch cost, {task}: {s.epoch_reps} alternated reps of {s.epoch_epochs} epochs"
            + (f"; {s.multirun_jobs}-job multirun against 1 job" if task == "binary" else "")
        )
        subprocess.run(cmd, cwd=dst, check=True, capture_output=True, env=clean_env())
        results[task] = json.loads(out.read_text())
    report.results["epochs"] = results
    for task, r in results.items():
        ms, cpu = r["epoch_ms"], r["epoch_cpu_ms"]
        load = max(r["load_1min"])
        report.checks += [
            Check(
                f"epoch as configured / hand-written epoch, {task} (wall)",
                f"{ms['project']:.1f} / {ms['hand']:.1f} ms = {r['ratio_to_hand']:.2f}x "
                f"(CPU {cpu['project']:.1f} / {cpu['hand']:.1f} ms = "
                f"{r['cpu_ratio_to_hand']:.2f}x; load <= {load:.1f})",
                "<= 2.0x",
                r["ratio_to_hand"] <= 2.0,
            ),
            Check(
                "  Lightning's own (CPU ms): bare loop, + self.log x3, + best/last ckpt",
                " / ".join(
                    f"{cpu[name]:.1f}"
                    for name in (
                        "lightning loop",
                        "lightning loop + log",
                        "lightning loop + log + checkpoints",
                    )
                ),
                "",
                None,
            ),
        ]
    binary = results["binary"]
    mr = binary["multirun"]
    report.checks += [
        Check(
            "default logger's cost per epoch, binary (wall)",
            f"{binary['logger_ms_per_epoch']:.1f} ms (CPU "
            f"{binary['logger_cpu_ms_per_epoch']:.1f} ms)",
            "<= 5 ms",
            binary["logger_ms_per_epoch"] <= 5.0,
        ),
        Check(
            f"multirun: s per extra {s.multirun_job_epochs}-epoch job (wall)",
            f"{mr['per_extra_job_s']:.2f} s (CPU {mr['per_extra_job_cpu_s']:.2f} s; 1 job "
            f"{mr['one_job_s']:.1f} s, load <= {max(mr['load_1min']):.1f})",
            "<= 1.0 s",
            mr["per_extra_job_s"] <= 1.0,
        ),
    ]


SECTIONS = ("render", "startup", "memory", "throughput", "scale", "epochs")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer repetitions, smaller data")
    size.add_argument(
        "--smoke",
        action="store_true",
        help="every contender once on tiny data: checks that the benchmarks run",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=SECTIONS,
        default=list(SECTIONS),
        metavar="SECTION",
        help=f"run only these sections ({', '.join(SECTIONS)})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="JSON output (default benchmarks/results.json; results-quick.json with --quick, "
        "results-smoke.json with --smoke, results-partial.json with --only)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for the throughput runs; 0 keeps torch's default (default: 1)",
    )
    args = parser.parse_args()
    s = Settings.quick() if args.quick else Settings.smoke() if args.smoke else Settings()
    s.threads = args.threads
    kind = "quick" if args.quick else "smoke" if args.smoke else "full"
    partial = set(args.only) != set(SECTIONS)
    default_out = "results.json" if kind == "full" else f"results-{kind}.json"
    out = args.out or BENCH_DIR / ("results-partial.json" if partial else default_out)
    sys.path.insert(0, str(BENCH_DIR))

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="template-bench-"))
    report = Report()
    try:
        log(f"rendering a default project into {work / 'project'}")
        project, package = render_project(work / "project")
        import yaml

        data_cfg = yaml.safe_load((project / "config/data/data.yaml").read_text())
        model_cfg = yaml.safe_load((project / "config/model/model.yaml").read_text())
        defaults = {
            "data_path": data_cfg["path"].replace("${paths.data_dir}", "data"),
            "target": data_cfg["target"],
            "batch_size": data_cfg["batch_size"],
            "lr": model_cfg["optimizer"]["lr"],
            "weight_decay": model_cfg["optimizer"]["weight_decay"],
            "hidden_sizes": model_cfg["net"]["hidden_sizes"],
        }
        report.results["machine"] = machine_info()
        report.results["settings"] = vars(s) | {"kind": kind, "sections": args.only}
        report.results["template"] = template_state(project)
        report.results["project_defaults"] = defaults

        load = report.results["load_average_1min"] = {"start": os.getloadavg()[0]}
        sections = {
            "render": lambda: bench_render(work, s, report),
            "startup": lambda: bench_startup(project, work, s, report),
            "memory": lambda: bench_memory(project, package, work, s, report, defaults),
            "throughput": lambda: bench_throughput(project, package, work, s, report),
            "scale": lambda: bench_scale(project, package, work, s, report),
            "epochs": lambda: bench_epochs(project, work, s, report),
        }
        for name, section in sections.items():
            if name in args.only:
                section()
                load[f"after_{name}"] = os.getloadavg()[0]
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    report.results["total_seconds"] = time.perf_counter() - started
    report.results["checks"] = [vars(c) for c in report.checks]
    out.write_text(json.dumps(report.results, indent=2) + "\n")
    m, t = report.results["machine"], report.results["template"]
    print()
    print(
        f"Machine: {m['cores']} cores, {m['cpu']}; Python {m['python']}, torch {m['torch']}, "
        f"lightning {m['lightning']}; template HEAD {t['head'][:10]}"
        + (" plus uncommitted template changes" if t["uncommitted_template_changes"] else "")
    )
    if kind == "smoke":
        print("Smoke run: every contender ran once on tiny data; the numbers mean nothing.")
    tp = report.results.get("throughput")
    if tp:
        print(
            f"Throughput: {tp['train_rows']} training rows x {s.features} features; validation "
            f"off for all contenders; median samples/s over {s.reps} alternating reps of "
            f"{s.epochs - 1} steady epochs (first epoch excluded); torch threads "
            f"{tp['torch_threads']}."
        )
    sc = report.results.get("scale")
    if sc:
        print(
            f"Scale: {sc['rows']:,} rows x {sc['columns']} columns ({sc['csv_mib']:.0f} MiB CSV); "
            f"medians of {sc['reps']} alternating reps, each in a fresh process."
        )
    print(
        "1-min load average (start, after each section): "
        + ", ".join(f"{v:.1f}" for v in report.results["load_average_1min"].values())
        + f" on {m['cores']} cores"
    )
    print()
    print(table(report.checks))
    print()
    failed = [c.name.strip() for c in report.checks if c.passed is False]
    print(f"{len(failed)} target(s) failed" + (": " + "; ".join(failed) if failed else ""))
    print(f"Wrote {out} in {report.results['total_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
