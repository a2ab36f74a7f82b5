"""After a multirun, one CSV with each job's overrides and final metrics."""

import csv
import json
import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


class SweepSummary(Callback):
    """Writes <sweep dir>/summary.csv from the metrics.json each job leaves in its folder."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        rows = [job_row(path.parent) for path in sweep_dir.glob("*/metrics.json")]
        if not rows:
            return
        rows.sort(key=lambda row: (not row["job"].isdigit(), row["job"].zfill(9)))
        columns = list(dict.fromkeys(key for row in rows for key in row))
        path = sweep_dir / "summary.csv"
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        log.info(f"Summary of {len(rows)} jobs: {path}")


def job_row(job_dir: Path) -> dict[str, Any]:
    """The job's number, its command-line overrides as columns, then its metrics."""
    row: dict[str, Any] = {"job": job_dir.name}
    overrides_file = job_dir / ".hydra" / "overrides.yaml"
    if overrides_file.exists():
        for override in OmegaConf.load(overrides_file):
            key, _, value = str(override).partition("=")
            row[key.lstrip("+~")] = value
    row.update(json.loads((job_dir / "metrics.json").read_text()))
    return row
