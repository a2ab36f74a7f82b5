"""The benchmarks still run against the template: every contender once, on tiny data.

The numbers of a smoke run mean nothing; this only keeps benchmarks/ from rotting when
the generated project's API changes. The real measurement is `benchmarks/run.py`
(docs/performance.md).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TEMPLATE, render

pytestmark = pytest.mark.slow

BENCH = TEMPLATE / "benchmarks"


def run_script(*args: str, timeout: float) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, *args], cwd=TEMPLATE, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (
        f"{args[0]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )
    return result


def test_run_smoke_runs_every_section_and_contender(tmp_path: Path):
    out = tmp_path / "results.json"
    result = run_script(str(BENCH / "run.py"), "--smoke", "--out", str(out), timeout=600)
    assert "Smoke run" in result.stdout
    results = json.loads(out.read_text())
    assert results["settings"]["kind"] == "smoke"
    assert {"render", "startup", "memory", "throughput", "scale", "epochs"} <= set(results)
    throughput = results["throughput"]["by_batch_size"]
    assert len(throughput) == 2
    for by_batch in throughput.values():
        assert set(by_batch["per_rep"]) == {"generated", "hand", "tutorial", "lightning_floor"}
        for runs in by_batch["per_rep"].values():
            assert len(runs["sps"]) == 1 and runs["sps"][0] > 0
    startup = results["startup"]["median_wall"]
    assert {
        "import_lightning",
        "import_lightning_mlflow",
        "help",
        "cfg_job",
        "first_step",
        "first_step_csv_logger",
    } <= set(startup)
    scale = results["scale"]
    assert scale["rows"] == 20_000 and scale["numeric_width"] > 0 and scale["category_sizes"]
    assert {"read_csv", "project_roles", "project_fit", "project_transform", "first_step"} <= set(
        scale["median_seconds"]
    )
    assert set(scale["targets"]) == {
        "preprocessing_after_read_le_read",
        "setup_after_read_le_read",
        "path_peak_le_3x_frame",
    }
    epochs = results["epochs"]
    assert set(epochs) == {"binary", "multiclass", "regression"}
    for by_task in epochs.values():
        assert by_task["epoch_ms"]["project"] > 0 and by_task["epoch_ms"]["hand"] > 0
        assert by_task["epoch_cpu_ms"]["lightning loop + log + checkpoints"] > 0
    assert epochs["binary"]["multirun"]["per_extra_job_s"] is not None
    names = {c["name"] for c in results["checks"]}
    assert {
        "epoch as configured / hand-written epoch, regression (wall)",
        "default logger's cost per epoch, binary (wall)",
    } <= names
    assert any(name.startswith("multirun: s per extra") for name in names)
    verdicts = [c for c in results["checks"] if c["passed"] is not None]
    assert verdicts and all(c["value"] for c in results["checks"])


def test_step_cost_smoke_runs_every_case(tmp_path: Path):
    project = render(tmp_path / "project")
    out = tmp_path / "step_cost.json"
    run_script(
        str(BENCH / "step_cost.py"), "--smoke", "--project", str(project), "--out", str(out),
        timeout=180,
    )  # fmt: skip
    results = json.loads(out.read_text())
    for by_batch in results["by_batch_size"].values():
        assert len(by_batch["median_ms_per_step"]) == 6
        assert all(ms > 0 for ms in by_batch["median_ms_per_step"].values())
        # Metrics updated per step or once per epoch log the same training values.
        assert by_batch["same_train_metrics"], by_batch["train_metrics"]
