"""Where a training step's time goes: the investigation behind docs/performance.md.

    .venv/bin/python benchmarks/step_cost.py            # about 2 minutes on 2 cores

Renders a default project (or uses --project DIR) and measures the CPU time per
training step (this process's CPU time, so other load on the machine matters less) of:

- hand loop, TensorDataset      the baseline of run.py
- hand loop, InMemoryDataset    the same loop fed by the project's batch-slicing dataset
- Lightning floor               a LightningModule with no metrics (lightning_floor.py)
- LigMod                        the generated module as rendered
- LigMod, epoch-end metrics     LigMod with the change recommended in docs/performance.md:
                                keep the step's outputs, update the metrics once per epoch
- the same + manual optimization  (how far a LightningModule can go, for reference)

It also checks that the epoch-end variant logs the same training metrics as LigMod.
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import logging
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="a rendered project (default: render one)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4, help="per run; the first is excluded")
    parser.add_argument("--rows", type=int, default=14_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")

    from run import render_project, template_state

    if args.project:
        project = args.project.resolve()
        package = next(p.parent.name for p in project.glob("*/train.py"))
    else:
        project, package = render_project(Path(tempfile.mkdtemp(prefix="step-cost-")) / "project")
    sys.path.insert(0, str(project))

    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    dense = importlib.import_module(f"{package}.models.components.simpledense")
    datamodule = importlib.import_module(f"{package}.data.datamodule")
    ligmod = importlib.import_module(f"{package}.models.ligmod")
    from lightning_floor import FloorModule

    class EpochEndMetrics(ligmod.LigMod):
        """LigMod with the recommended change: one metric update per epoch."""

        def on_train_epoch_start(self) -> None:
            self._train_outputs = []

        def training_step(self, batch, batch_idx):
            loss, preds, targets = self.model_step(batch)
            self._train_outputs.append((loss.detach(), preds.detach(), targets))
            return loss

        def on_train_epoch_end(self) -> None:
            if self._train_outputs:
                losses, preds, targets = zip(*self._train_outputs, strict=True)
                self._train_outputs = []
                sizes = torch.tensor([len(t) for t in targets], dtype=torch.float32)
                self.train_loss.update(torch.stack(losses), weight=sizes)
                self.train_metrics.update(torch.cat(preds), torch.cat(targets))
            self._log_epoch(self.train_loss, self.train_metrics, "train/loss")

    class EpochEndManual(EpochEndMetrics):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            optimizer = self.optimizers()
            loss, preds, targets = self.model_step(batch)
            optimizer.zero_grad()
            self.manual_backward(loss)
            optimizer.step()
            self._train_outputs.append((loss.detach(), preds.detach(), targets))

    class CpuTimer(L.Callback):
        def __init__(self):
            self.bounds = []

        def on_train_epoch_start(self, *_):
            self.bounds.append(time.process_time())

        def on_train_end(self, trainer, *_):
            self.bounds.append(time.process_time())
            self.metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}

    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.rows, 64, generator=g)
    y = (x[:, :8].sum(1) + 0.5 * torch.randn(args.rows, generator=g) > 0).long()
    epochs = args.epochs
    net = functools.partial(dense.SimpleDenseNet, input_size=64, hidden_sizes=[64])
    adam = functools.partial(torch.optim.Adam, lr=1e-3)

    def loader(kind, batch):
        if kind == "tensor":
            return DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True)
        data = datamodule.InMemoryDataset(x, y)
        return DataLoader(data, batch_size=batch, shuffle=True, collate_fn=datamodule.keep_batch)

    def hand(kind, batch):
        torch.manual_seed(0)
        model, times = net(), []
        optimizer, criterion = adam(model.parameters()), torch.nn.BCEWithLogitsLoss()
        for _ in range(epochs):
            start = time.process_time()
            for xb, yb in loader(kind, batch):
                optimizer.zero_grad()
                criterion(model(xb).squeeze(-1), yb.float()).backward()
                optimizer.step()
            times.append(time.process_time() - start)
        return times, {}

    def lightning(make, batch):
        torch.manual_seed(0)
        timer = CpuTimer()
        trainer = L.Trainer(
            max_epochs=epochs, accelerator="cpu", devices=1, logger=False, callbacks=[timer],
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            limit_val_batches=0, num_sanity_val_steps=0, log_every_n_steps=1,
        )  # fmt: skip
        trainer.fit(make(), train_dataloaders=loader("inmem", batch))
        b = timer.bounds
        return [q - p for p, q in zip(b, b[1:], strict=False)], timer.metrics

    def module(cls):
        return lambda: cls(net=net(), optimizer=adam, scheduler=None)

    cases = {
        "hand loop, TensorDataset": functools.partial(hand, "tensor"),
        "hand loop, InMemoryDataset": functools.partial(hand, "inmem"),
        "Lightning floor": functools.partial(lightning, lambda: FloorModule(net(), adam)),
        "LigMod (as rendered)": functools.partial(lightning, module(ligmod.LigMod)),
        "LigMod, epoch-end metrics": functools.partial(lightning, module(EpochEndMetrics)),
        "  + manual optimization": functools.partial(lightning, module(EpochEndManual)),
    }
    state = template_state(project)
    dirty = " plus uncommitted template changes" if state["uncommitted_template_changes"] else ""
    print(f"template HEAD {state['head'][:10]}{dirty}; torch threads 1")
    print(f"{args.rows} rows x 64 features, CPU ms per step (median of {args.reps}); "
          "ratio = hand loop (TensorDataset) / case")  # fmt: skip
    for batch in (32, 256):
        steps = -(-args.rows // batch)
        per_step: dict[str, list[float]] = {name: [] for name in cases}
        logged: dict[str, dict[str, float]] = {}
        for _ in range(args.reps):
            for name, run in cases.items():
                gc.collect()
                times, metrics = run(batch)
                per_step[name].append(sum(times[1:]) / (len(times) - 1) / steps)
                logged[name] = metrics
        base = statistics.median(per_step["hand loop, TensorDataset"])
        for name, values in per_step.items():
            cost = statistics.median(values)
            print(f"batch {batch:>3}  {name:<28} {cost * 1e3:6.3f} ms   ratio {base / cost:4.2f}")
        a, b = logged["LigMod (as rendered)"], logged["LigMod, epoch-end metrics"]
        same = a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-5 for k in a)
        print(f"batch {batch:>3}  epoch-end metrics log the same train metrics as LigMod: {same}")


if __name__ == "__main__":
    main()
