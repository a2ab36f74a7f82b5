"""Scale: a 1,000,000-row x 40-column table through the project's data path.

    .venv/bin/python benchmarks/scale.py --project DIR           # about 2 minutes
    .venv/bin/python benchmarks/scale.py --project DIR --smoke   # 20,000 rows, 1 rep

run.py runs this as one of its sections (on the project it renders); run alone, it
needs a rendered project (`--project`). The table is written once as CSV into
benchmarks/.cache/ (git-ignored; about 40 s and 320 MiB at full size) and reused: 30
numeric columns with 5 % blanks, 10 text columns with 10 to 10,000 distinct values
(Zipf-like frequencies), and a binary `target` (yes/no).

Measured side by side, in one run, the contenders alternating in every repetition and
each in a fresh child process:

- `read_csv`: `pandas.read_csv` of the file alone, as a person would read it;
- `project`: the project's data path, timed by stage as `DataModule.setup` runs it:
  `read_table`; the target's classes and the stratified train/val/test split; the
  training rows `frame.iloc[train]` (taken twice, for `infer_roles` and for `fit`);
  `infer_roles` on the training split; `Preprocessor.fit` on the training split; and
  `transform` of the whole table. "Preprocessing after the read" is roles + fit +
  transform; the stricter reading counts everything after the read;
- `first_step`: `python main.py data.path=<file> data.target=target trainer.max_steps=1`
  with Lightning's CSVLogger and every other default, from just before the fork to the
  first training batch (benchmarks/probes.py's FirstStepProbe, as in run.py's start-up
  section, which ends the process there).

Memory is the peak resident set size (VmHWM of /proc/self/status) of the child, which
sees what numpy, pandas and pyarrow allocate in C (tracemalloc would not). The peak is
reset (/proc/self/clear_refs) after the imports, so the figure is what the data path
adds to the process, compared with the loaded frame's `memory_usage(deep=True).sum()`.

Targets (from the issue): preprocessing after the read takes no longer than the read
itself, and the data path's peak memory (read included) is at most 3 x the loaded frame.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
CACHE = BENCH_DIR / ".cache"
PYTHON = sys.executable
# Bump when the generator changes, so a cached file of the old kind is not reused.
GENERATOR_VERSION = 1
NUMERIC, CATEGORICAL = 30, 10
TARGET = "target"
BLANK_SHARE = 0.05
FULL_ROWS, SMOKE_ROWS = 1_000_000, 20_000


# -- the table -------------------------------------------------------------------------


def category_levels() -> list[int]:
    """Distinct values of the 10 text columns: 10 to 10,000, evenly on a log scale."""
    return [round(10 ** (1 + 3 * i / (CATEGORICAL - 1))) for i in range(CATEGORICAL)]


def write_table(path: Path, rows: int, seed: int = 0) -> None:
    """A synthetic table: numbers on mixed scales with blanks, skewed text categories and
    a yes/no target that depends on both (so a model can learn something)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    score = np.zeros(rows)
    for i in range(NUMERIC):
        z = rng.standard_normal(rows)
        if i < 8:
            score += z * rng.uniform(0.3, 1.0) * rng.choice([-1, 1])
        scale, offset = 10.0 ** rng.uniform(-2, 3), rng.uniform(-50, 50)
        values = (z * scale + offset).round(4)
        values[rng.random(rows) < BLANK_SHARE] = np.nan
        columns[f"num_{i:02d}"] = values
    for i, levels in enumerate(category_levels()):
        # Zipf-like frequencies: a few common values and a long tail of rare ones.
        weights = 1.0 / np.arange(1, levels + 1) ** 0.9
        codes = rng.choice(levels, size=rows, p=weights / weights.sum())
        if i < 3:
            effect = rng.standard_normal(levels) * 0.5
            score += effect[codes]
        names = np.array([f"c{i}_{k:05d}" for k in range(levels)], dtype=object)
        columns[f"cat_{i}"] = names[codes]
    score += 0.5 * rng.standard_normal(rows)
    columns[TARGET] = np.where(score > np.median(score), "yes", "no")
    frame = pd.DataFrame(columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    frame.to_csv(partial, index=False)
    partial.replace(path)  # a killed run leaves no half-written table behind


def cached_table(rows: int, log=print) -> Path:
    """The CSV of `rows` rows in benchmarks/.cache/, written on first use."""
    path = CACHE / f"scale-v{GENERATOR_VERSION}-{rows}x{NUMERIC + CATEGORICAL}.csv"
    if not path.exists():
        log(f"scale: writing {path.name} (once; kept in {CACHE})")
        start = time.perf_counter()
        write_table(path, rows)
        log(f"scale: wrote {path.stat().st_size / 2**20:.0f} MiB in "
            f"{time.perf_counter() - start:.0f} s")  # fmt: skip
    return path


# -- measurements in a child process ----------------------------------------------------


def memory_kib(field: str) -> int:
    """VmRSS or VmHWM of this process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> bool:
    """Set this process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def worker(kind: str, csv: Path, project: Path | None, package: str | None) -> dict[str, Any]:
    """One measurement, in this (fresh) process: stage times, frame size, peak memory."""
    import gc

    import pandas as pd

    if kind == "project":
        sys.path.insert(0, str(project))
        table = importlib.import_module(f"{package}.data.table")
        roles_module = importlib.import_module(f"{package}.data.roles")
        preprocessing = importlib.import_module(f"{package}.data.preprocessing")
        split = importlib.import_module(f"{package}.data.split")
        target_module = importlib.import_module(f"{package}.data.target")
        import torch  # noqa: F401  (imported by the modules above; its cost stays out)
    stages: dict[str, float] = {}
    # Per stage: RSS before it and the process's peak RSS while it ran (absolute KiB).
    rss_before: dict[str, int] = {}
    peak_during: dict[str, int] = {}

    def stage(name: str, work):
        gc.collect()
        rss_before[name] = memory_kib("VmRSS")
        reset_peak()
        begin = time.perf_counter()
        value = work()
        stages[name] = time.perf_counter() - begin
        peak_during[name] = memory_kib("VmHWM")
        return value

    gc.collect()
    baseline = memory_kib("VmRSS")
    peak_was_reset = reset_peak()
    if kind == "read_csv":
        frame = stage("read", lambda: pd.read_csv(csv))
    else:
        frame = stage("read", lambda: table.read_table(csv))

        def split_rows():
            # As DataModule.setup does: classes, then a stratified 70/15/15 split.
            targets = target_module.Target(TARGET, "binary").encode(frame[TARGET])
            sizes = split.split_sizes((0.7, 0.15, 0.15), len(frame))
            return split.split_rows(sizes, 42, targets.numpy())[0]

        train = stage("target_and_split", split_rows)
        # DataModule.setup takes the training rows twice: frame.iloc[train] for
        # infer_roles, and again for Preprocessor.fit.
        train_frame = stage("train_rows", lambda: frame.iloc[train])
        roles = stage("roles", lambda: roles_module.infer_roles(train_frame, TARGET))
        del train_frame
        train_frame = stage("train_rows_again", lambda: frame.iloc[train])
        fitted = stage("fit", lambda: preprocessing.Preprocessor.fit(train_frame, roles, 3))
        del train_frame
        numbers, categories = stage("transform", lambda: fitted.transform(frame))
    frame_bytes = int(frame.memory_usage(deep=True).sum())
    path_peak = max(peak_during.values())
    result = {
        "kind": kind,
        "rows": len(frame),
        "columns": frame.shape[1],
        "stages": stages,
        "frame_bytes": frame_bytes,
        "dtypes": sorted({str(t) for t in frame.dtypes}),
        "rss_before_kib": baseline,
        "peak_was_reset": peak_was_reset,
        # The path's peak RSS above the RSS before it (imports excluded).
        "peak_added_kib": path_peak - baseline,
        "read_peak_added_kib": peak_during["read"] - baseline,
        # Each stage's peak above the RSS it started from.
        "stage_peak_added_kib": {n: peak_during[n] - rss_before[n] for n in stages},
        "stage_rss_before_kib": rss_before,
        # Each stage's peak above the RSS before the path: where the path's peak is.
        "stage_peak_over_start_kib": {n: peak_during[n] - baseline for n in stages},
    }
    if kind == "project":
        after_read = rss_before["target_and_split"]
        result |= {
            "rss_after_read_kib": after_read,
            "preprocessing_peak_added_kib": max(peak_during[n] for n in stages if n != "read")
            - after_read,
            "outputs_bytes": numbers.nbytes + categories.nbytes,
            "numeric_width": fitted.numeric_width,
            "category_sizes": fitted.category_sizes,
        }
    return result


def run_worker(kind: str, csv: Path, project: Path, package: str) -> dict[str, Any]:
    cmd = [PYTHON, __file__, "--worker", kind, "--csv", str(csv), "--project", str(project),
           "--package", package]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, env=child_env())
    if done.returncode != 0:
        raise RuntimeError(f"scale worker {kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "WANDB_"))}
    env.pop("PYTHONPATH", None)
    return env | extra


CSV_LOGGER = (
    "~logger",
    "+logger.csv._target_=lightning.pytorch.loggers.CSVLogger",
    "+logger.csv.save_dir=${paths.output_dir}",
)


def first_step(project: Path, csv: Path, work: Path) -> dict[str, float]:
    """Process start to the first training batch of main.py on the table (FirstStepProbe)."""
    probe, log_file = work / "scale-probe.json", work / "scale-first-step.log"
    probe.unlink(missing_ok=True)
    cmd = [
        PYTHON, "main.py", f"data.path={csv}", f"data.target={TARGET}", "++trainer.max_steps=1",
        *CSV_LOGGER, "+callbacks.first_step._target_=probes.FirstStepProbe",
    ]  # fmt: skip
    env = child_env(PYTHONPATH=str(BENCH_DIR), BENCH_PROBE_FILE=str(probe))
    with open(log_file, "w") as sink:
        start_epoch = time.time()
        proc = subprocess.Popen(cmd, cwd=project, env=env, stdout=sink, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not probe.exists():
        raise RuntimeError(f"main.py on the scale table failed:\n{log_file.read_text()[-3000:]}")
    marks = {name: stamp - start_epoch for name, stamp in json.loads(probe.read_text()).items()}
    return marks | {"cpu": usage.ru_utime + usage.ru_stime, "max_rss_mib": usage.ru_maxrss / 1024}


# -- the section -----------------------------------------------------------------------


def bench_scale(
    project: Path, package: str, work: Path, rows: int, reps: int, log=print
) -> tuple[dict[str, Any], list[tuple[str, str, str, bool | None]]]:
    """(results, checks as (measure, result, target, passed)) of the scale benchmark."""
    csv = cached_table(rows, log)
    log(f"scale: {rows:,} rows x {NUMERIC + CATEGORICAL} columns + target "
        f"({csv.stat().st_size / 2**20:.0f} MiB CSV); {reps} rep(s) of read_csv, the "
        f"project's data path and main.py to the first step, alternating")  # fmt: skip
    runs: dict[str, list[dict[str, Any]]] = {"read_csv": [], "project": [], "first_step": []}
    for rep in range(reps):
        order = ["read_csv", "project", "first_step"]
        if rep % 2:
            order.reverse()
        for kind in order:
            if kind == "first_step":
                result = first_step(project, csv, work)
                log(f"  rep {rep + 1}/{reps} first_step {result['first_batch']:.2f} s "
                    f"(peak RSS {result['max_rss_mib']:.0f} MiB)")  # fmt: skip
            else:
                result = run_worker(kind, csv, project, package)
                log(f"  rep {rep + 1}/{reps} {kind:<9} "
                    + ", ".join(f"{k} {v:.2f} s" for k, v in result["stages"].items())
                    + f"; peak +{result['peak_added_kib'] / 1024:.0f} MiB, frame "
                    f"{result['frame_bytes'] / 2**20:.0f} MiB")  # fmt: skip
            runs[kind].append(result)

    def med(kind: str, get) -> float:
        return statistics.median(get(r) for r in runs[kind])

    project_runs = runs["project"]
    stage_names = list(project_runs[0]["stages"])
    stage_med = {s: med("project", lambda r, s=s: r["stages"][s]) for s in stage_names}
    read_csv = med("read_csv", lambda r: r["stages"]["read"])
    preprocessing = med("project", lambda r: sum(r["stages"][s] for s in PREPROCESSING))
    setup_after_read = med(
        "project", lambda r: sum(v for k, v in r["stages"].items() if k != "read")
    )
    stage_peak_mib = {
        s: med("project", lambda r, s=s: r["stage_peak_added_kib"][s]) / 1024 for s in stage_names
    }
    frame_mib = med("project", lambda r: r["frame_bytes"]) / 2**20
    peak_mib = med("project", lambda r: r["peak_added_kib"]) / 1024
    pre_peak_mib = med("project", lambda r: r["preprocessing_peak_added_kib"]) / 1024
    read_peak_mib = med("project", lambda r: r["read_peak_added_kib"]) / 1024
    pandas_peak_mib = med("read_csv", lambda r: r["peak_added_kib"]) / 1024
    pandas_frame_mib = med("read_csv", lambda r: r["frame_bytes"]) / 2**20
    rss_before_mib = med("project", lambda r: r["rss_before_kib"]) / 1024
    outputs_mib = med("project", lambda r: r["outputs_bytes"]) / 2**20
    first = med("first_step", lambda r: r["first_batch"])
    first_built = med("first_step", lambda r: r["callbacks_built"])
    first_rss = med("first_step", lambda r: r["max_rss_mib"])
    results = {
        "rows": rows,
        "columns": NUMERIC + CATEGORICAL + 1,
        "csv": csv.name,
        "csv_mib": csv.stat().st_size / 2**20,
        "category_levels": category_levels(),
        "reps": reps,
        "runs": runs,
        "median_seconds": {
            "read_csv": read_csv,
            **{f"project_{s}": v for s, v in stage_med.items()},
            "project_preprocessing_after_read": preprocessing,
            "project_setup_after_read": setup_after_read,
            "first_step": first,
            "first_step_callbacks_built": first_built,
        },
        "median_mib": {
            "frame": frame_mib,
            "frame_read_csv": pandas_frame_mib,
            "path_peak_added": peak_mib,
            "read_peak_added": read_peak_mib,
            "preprocessing_peak_added": pre_peak_mib,
            "read_csv_peak_added": pandas_peak_mib,
            "rss_before_path": rss_before_mib,
            "preprocessing_outputs": outputs_mib,
            "stage_peak_added": stage_peak_mib,
            "first_step_max_rss": first_rss,
        },
        "dtypes": project_runs[0]["dtypes"],
        "numeric_width": project_runs[0]["numeric_width"],
        "category_sizes": project_runs[0]["category_sizes"],
    }
    read = stage_med["read"]
    time_ok = preprocessing <= read
    setup_ok = setup_after_read <= read
    memory_ok = peak_mib <= 3 * frame_mib
    results["targets"] = {
        "preprocessing_after_read_le_read": time_ok,
        "setup_after_read_le_read": setup_ok,
        "path_peak_le_3x_frame": memory_ok,
    }
    over_start = {
        s: med("project", lambda r, s=s: r["stage_peak_over_start_kib"][s]) for s in stage_names
    }
    top = max(over_start, key=over_start.get)
    n = f"{rows:,} rows"
    checks: list[tuple[str, str, str, bool | None]] = [
        (f"scale, {n}: `pandas.read_csv` alone", f"{read_csv:.2f} s "
         f"(frame {pandas_frame_mib:.0f} MiB, peak +{pandas_peak_mib:.0f} MiB)", "", None),
        (f"scale, {n}: project `read_table`", f"{read:.2f} s "
         f"(peak +{read_peak_mib:.0f} MiB)", "", None),
        ("  target classes + stratified split (as DataModule.setup)",
         f"{stage_med['target_and_split']:.2f} s", "", None),
        ("  training rows `frame.iloc[train]`, taken twice as DataModule.setup does",
         f"{stage_med['train_rows']:.2f} s + {stage_med['train_rows_again']:.2f} s", "", None),
        ("  `infer_roles` on the training split", f"{stage_med['roles']:.2f} s", "", None),
        ("  `Preprocessor.fit` on the training split", f"{stage_med['fit']:.2f} s", "", None),
        ("  `transform` of the whole table", f"{stage_med['transform']:.2f} s", "", None),
        (f"scale, {n}: preprocessing after the read (roles + fit + transform)",
         f"{preprocessing:.2f} s ({preprocessing / read:.2f} x the read)",
         f"<= read_table = {read:.2f} s", time_ok),
        ("  stricter: all DataModule.setup does after the read (target, split, rows, "
         "roles, fit, transform)",
         f"{setup_after_read:.2f} s ({setup_after_read / read:.2f} x the read)",
         f"<= read_table = {read:.2f} s", setup_ok),
        (f"scale, {n}: peak memory the data path adds (VmHWM above imports)",
         f"{peak_mib:.0f} MiB = {peak_mib / frame_mib:.2f} x the frame ({frame_mib:.0f} MiB); "
         f"highest in {top}", f"<= 3 x frame = {3 * frame_mib:.0f} MiB", memory_ok),
        ("  each stage's peak above the RSS it started from",
         ", ".join(f"{k} +{v:.0f}" for k, v in stage_peak_mib.items()) + " MiB", "", None),
        ("  process peak incl. imports (torch, pandas)",
         f"{rss_before_mib + peak_mib:.0f} MiB", "", None),
        (f"scale, {n}: `main.py` to the first training step (CSVLogger)",
         f"{first:.2f} s (data ready, callbacks built at {first_built:.2f} s; peak RSS "
         f"{first_rss:.0f} MiB)", "", None),
    ]  # fmt: skip
    return results, checks


PREPROCESSING = ("roles", "fit", "transform")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="a rendered project")
    parser.add_argument("--package", help="its package (default: found)")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--reps", type=int)
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_ROWS:,} rows, 1 rep")
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    parser.add_argument("--worker", choices=("read_csv", "project"), help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.csv, args.project, args.package)))
        return 0
    if not args.project:
        parser.error("--project DIR is needed (or run benchmarks/run.py, which renders one)")
    project = args.project.resolve()
    package = args.package or next(p.parent.name for p in project.glob("*/train.py"))
    rows = args.rows or (SMOKE_ROWS if args.smoke else FULL_ROWS)
    reps = args.reps or (1 if args.smoke else 3)
    work = Path(os.environ.get("TMPDIR", "/tmp"))
    results, checks = bench_scale(project, package, work, rows, reps)
    for name, value, target, passed in checks:
        verdict = "" if passed is None else ("PASS" if passed else "FAIL")
        print(f"| {name} | {value} | {target} | {verdict} |")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
