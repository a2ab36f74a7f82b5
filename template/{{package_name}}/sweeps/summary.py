"""After a multirun: one row per job (summary.csv), and one per configuration
(summary_grouped.csv) with each metric's mean, std and run count over seeds and folds."""

import csv
import json
import logging
import math
import statistics
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

# Overrides that repeat a configuration rather than change it: grouped over.
REPEATS = ("seed", "data.fold")


class SweepSummary(Callback):
    """Writes summary.csv and summary_grouped.csv from each job's metrics.json, and prints
    the grouped table."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        rows = [job_row(path.parent) for path in sweep_dir.glob("*/metrics.json")]
        if not rows:
            return
        rows.sort(key=lambda row: (not row["job"].isdigit(), row["job"].zfill(9)))
        write_csv(sweep_dir / "summary.csv", rows)
        log.info(f"Summary of {len(rows)} jobs: {sweep_dir / 'summary.csv'}")
        grouped = group_rows(rows)
        write_csv(sweep_dir / "summary_grouped.csv", grouped)
        print_grouped(grouped)
        log.info(f"Mean and std per configuration: {sweep_dir / 'summary_grouped.csv'}")


def job_row(job_dir: Path) -> dict[str, Any]:
    """The job's number, its command-line overrides as columns, its status, then its metrics."""
    row: dict[str, Any] = {"job": job_dir.name}
    overrides_file = job_dir / ".hydra" / "overrides.yaml"
    if overrides_file.exists():
        for override in OmegaConf.load(overrides_file):
            key, _, value = str(override).partition("=")
            row[key.lstrip("+~")] = value
    metrics = json.loads((job_dir / "metrics.json").read_text())
    row["status"] = "pruned" if "pruned_at_epoch" in metrics else "completed"
    row.update(metrics)
    return row


def group_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per distinct configuration (overrides other than seed and data.fold) of the
    completed jobs: `<metric> mean`, `<metric> std` and the number of runs `n`."""
    completed = [row for row in rows if row["status"] == "completed"]
    # Overrides are read as text; metrics are numbers.
    metrics = list(
        dict.fromkeys(k for row in completed for k, v in row.items() if not isinstance(v, str))
    )
    settings = [
        k
        for k in dict.fromkeys(k for row in completed for k in row)
        if k not in (*REPEATS, "job", "status", "optuna_trial") and k not in metrics
    ]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in completed:
        groups.setdefault(tuple(row.get(k, "") for k in settings), []).append(row)
    grouped = []
    for key, members in groups.items():
        out: dict[str, Any] = dict(zip(settings, key, strict=True))
        out["n"] = len(members)
        for metric in metrics:
            values = [float(m[metric]) for m in members if metric in m]
            out[f"{metric} mean"] = statistics.fmean(values) if values else math.nan
            out[f"{metric} std"] = statistics.stdev(values) if len(values) > 1 else math.nan
        grouped.append(out)
    return grouped


def print_grouped(grouped: list[dict[str, Any]]) -> None:
    """The grouped table: the settings that differ, the run count, test metrics as mean±std
    (the CSV has every metric, the loss and the baselines among them)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    means = [k.removesuffix(" mean") for k in grouped[0] if k.endswith(" mean")]
    shown = [m for m in means if m.startswith("test/") and m != "test/loss"] or means
    settings = [
        k
        for k in grouped[0]
        if k != "n" and not k.endswith((" mean", " std")) and len({row[k] for row in grouped}) > 1
    ]
    table = Table(title="Test metrics, mean ± std per configuration", header_style="bold")
    for column in settings:
        table.add_column(escape(column), no_wrap=True)
    table.add_column("n", justify="right", min_width=2)
    for metric in shown:
        table.add_column(escape(metric.removeprefix("test/")), justify="right", no_wrap=True)
    for row in grouped:
        cells = [escape(str(row[k])) for k in settings] + [str(row["n"])]
        for metric in shown:
            mean, std = row[f"{metric} mean"], row[f"{metric} std"]
            cells.append(f"{mean:.3f}" + ("" if math.isnan(std) else f"±{std:.3f}"))
        table.add_row(*cells)
    Console(soft_wrap=True).print(table)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
