"""The closing summary of a run: final test metrics and where its files are."""

from pathlib import Path

from lightning.pytorch.utilities import rank_zero_only
from rich.console import Console
from rich.table import Table


@rank_zero_only
def print_run_summary(metrics: dict[str, float], output_dir: str, best_ckpt: str | None) -> None:
    console = Console(soft_wrap=True)  # paths stay on one line, copyable
    tested = {name: value for name, value in metrics.items() if name.startswith("test/")}
    if tested:
        table = Table(title="Run summary", show_header=True, header_style="bold")
        table.add_column("test metric")
        table.add_column("value", justify="right")
        table.add_column("baseline", justify="right")
        for name, value in tested.items():
            metric = name.removeprefix("test/")
            baseline = metrics.get(f"baseline/{metric}")
            shown = "" if baseline is None else f"{baseline:.4f}"
            table.add_row(metric, f"{value:.4f}", shown)
        console.print(table)
        console.print(
            "baseline: a trivial model (the training split's majority class or mean) "
            "on the same test rows"
        )
    run_dir = Path(output_dir)
    console.print(f"Run folder:        {run_dir}")
    if best_ckpt:
        console.print(f"Tested checkpoint: {best_ckpt}")
    for figure in sorted(run_dir.glob("*.png")):
        console.print(f"Figure:            {figure}")
