"""Where a training step's time goes: the investigation behind docs/performance.md.

    .venv/bin/python benchmarks/step_cost.py            # about 2 minutes on 2 cores
    .venv/bin/python benchmarks/step_cost.py --smoke    # every case once, seconds

Renders a default (binary) project (or uses --project DIR) and measures the CPU time
per training step (this process's CPU time, so other load on the machine matters less)
of:

- hand loop, TensorDataset      the baseline of run.py (hand_loop.train)
- hand loop, InMemoryDataset    the same loop fed by the project's batch-slicing dataset
- Lightning floor               a LightningModule with no metrics (lightning_floor.py)
- LigMod                        the generated task module (models/binary.py) as rendered:
                                steps keep their outputs, metrics updated once per epoch
- LigMod, per-step metrics      the same with the metrics updated in every step (the
                                pattern LigMod had before; what the change saves)
- LigMod + manual optimization  (how far a LightningModule can go, for reference)

The data is numeric only (no categorical columns), like run.py's throughput data. It
also checks that the per-step variant logs the same training metrics as LigMod.
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import json
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
    parser.add_argument(
        "--smoke", action="store_true", help="1 rep, 2 epochs, 2,000 rows: checks that it runs"
    )
    parser.add_argument("--out", type=Path, help="also write the results as JSON")
    args = parser.parse_args()
    if args.smoke:
        args.reps, args.epochs, args.rows = 1, 2, 2_000
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
    datamodule = importlib.import_module(f"{package}.data.datamodule")
    binary = importlib.import_module(f"{package}.models.binary")
    from hand_loop import dataset_tensors, unpack
    from lightning_floor import FloorModule

    Classifier = binary.BinaryClassifier

    class PerStepMetrics(Classifier):
        """LigMod with its metrics updated in every training step (the former pattern)."""

        def training_step(self, batch, batch_idx):
            loss, preds, targets = self.model_step(batch)
            self.train_loss.update(loss.detach(), weight=len(targets))
            self.train_metrics.update(preds.detach(), targets)
            return loss

        def on_train_epoch_end(self) -> None:
            values = {"train/loss": self.train_loss.compute(), **self.train_metrics.compute()}
            self.train_loss.reset()
            self.train_metrics.reset()
            self.log("train/loss", values.pop("train/loss"), prog_bar=True, sync_dist=True)
            self.log_dict(values, sync_dist=True)

    class ManualOptimization(Classifier):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            optimizer = self.optimizers()
            loss, preds, targets = self.model_step(batch)
            optimizer.zero_grad()
            self.manual_backward(loss)
            optimizer.step()
            self.outputs["train"].append((loss.detach(), preds.detach(), targets))

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
    c = torch.empty((args.rows, 0), dtype=torch.long)  # no categorical columns
    y = (x[:, :8].sum(1) + 0.5 * torch.randn(args.rows, generator=g) > 0).long()
    epochs = args.epochs
    # The network and optimizer as the project's config gives them to LigMod.
    net_config = {
        "_target_": f"{package}.models.components.simpledense.SimpleDenseNet",
        "numeric_features": 64,
        "category_sizes": [],
        "hidden_sizes": [64],
        "output_size": 1,
    }
    adam_config = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 1e-3}
    dense = importlib.import_module(f"{package}.models.components.simpledense")
    net = functools.partial(dense.SimpleDenseNet, 64, [], [64], 1)
    adam = functools.partial(torch.optim.Adam, lr=1e-3)

    def loader(kind, batch):
        if kind == "tensor":
            data = TensorDataset(*dataset_tensors(x, c, y))
            return DataLoader(data, batch_size=batch, shuffle=True)
        data = datamodule.InMemoryDataset(x, c, y)
        return DataLoader(data, batch_size=batch, shuffle=True, collate_fn=datamodule.keep_batch)

    def hand(kind, batch):
        torch.manual_seed(0)
        model, times = net(), []
        optimizer, criterion = adam(model.parameters()), torch.nn.BCEWithLogitsLoss()
        for _ in range(epochs):
            start = time.process_time()
            for served in loader(kind, batch):
                xb, cb, yb = unpack(served)
                optimizer.zero_grad()
                criterion(model(xb, cb).squeeze(-1), yb.float()).backward()
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
        return lambda: cls(net=net_config, optimizer=adam_config, scheduler=None)

    cases = {
        "hand loop, TensorDataset": functools.partial(hand, "tensor"),
        "hand loop, InMemoryDataset": functools.partial(hand, "inmem"),
        "Lightning floor": functools.partial(lightning, lambda: FloorModule(net(), adam)),
        "LigMod (as rendered)": functools.partial(lightning, module(Classifier)),
        "LigMod, per-step metrics": functools.partial(lightning, module(PerStepMetrics)),
        "  + manual optimization": functools.partial(lightning, module(ManualOptimization)),
    }
    state = template_state(project)
    dirty = " plus uncommitted template changes" if state["uncommitted_template_changes"] else ""
    print(f"template HEAD {state['head'][:10]}{dirty}; torch threads 1")
    print(f"{args.rows} rows x 64 features, CPU ms per step (median of {args.reps}); "
          "ratio = hand loop (TensorDataset) / case")  # fmt: skip
    results = {
        "template": state,
        "rows": args.rows,
        "features": 64,
        "reps": args.reps,
        "epochs": epochs,
        "smoke": args.smoke,
        "by_batch_size": {},
    }
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
        medians = {name: statistics.median(values) for name, values in per_step.items()}
        for name, cost in medians.items():
            print(f"batch {batch:>3}  {name:<28} {cost * 1e3:6.3f} ms   ratio {base / cost:4.2f}")
        a, b = logged["LigMod (as rendered)"], logged["LigMod, per-step metrics"]
        same = bool(a) and a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-5 for k in a)
        print(f"batch {batch:>3}  per-step metrics log the same train metrics as LigMod: {same}")
        results["by_batch_size"][str(batch)] = {
            "cpu_seconds_per_step": per_step,
            "median_ms_per_step": {name: cost * 1e3 for name, cost in medians.items()},
            "ratio_hand_to_case": {name: base / cost for name, cost in medians.items()},
            "same_train_metrics": same,
            "train_metrics": logged["LigMod (as rendered)"],
        }
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
