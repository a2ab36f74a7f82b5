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
        for name, value in tested.items():
            table.add_row(name.removeprefix("test/"), f"{value:.4f}")
        console.print(table)
    run_dir = Path(output_dir)
    console.print(f"Run folder:        {run_dir}")
    if best_ckpt:
        console.print(f"Tested checkpoint: {best_ckpt}")
    for figure in sorted(run_dir.glob("*.png")):
        console.print(f"Figure:            {figure}")
