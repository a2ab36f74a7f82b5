"""A hand-written PyTorch training loop: the baseline the generated project is held to.

TensorDataset + DataLoader(shuffle=True), the project's SimpleDenseNet (numbers and
category indices in, one logit out), Adam, and BCEWithLogitsLoss; no metrics, no
logging, no validation. run.py imports `train` and times it in-process on the project's
own preprocessed tensors; run as a script, it is the memory baseline: it reads a
numeric CSV the way a person would with pandas, splits and standardises it like the
project's DataModule, trains, tests, and prints a JSON line. It imports torch and
pandas only.

    python benchmarks/hand_loop.py --project DIR --csv DIR/data/breast_cancer.csv \
        --target diagnosis --epochs 5
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Sequence

import torch
from torch.utils.data import DataLoader, TensorDataset


def dataset_tensors(
    numbers: torch.Tensor, categories: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """What the DataLoader serves. A table without categorical columns has an empty
    category tensor: it is left out, so the row-by-row collate of TensorDataset does not
    index and stack it for every row and the baseline stays as fast as it can be."""
    if categories.shape[1] == 0:
        return numbers, targets
    return numbers, categories, targets


def unpack(batch: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(numbers, categories, targets) of a batch served from `dataset_tensors`."""
    if len(batch) == 2:
        numbers, targets = batch
        return numbers, numbers.new_empty((len(numbers), 0), dtype=torch.long), targets
    numbers, categories, targets = batch
    return numbers, categories, targets


def train(
    net: torch.nn.Module,
    numbers: torch.Tensor,
    categories: torch.Tensor,
    targets: torch.Tensor,
    *,
    batch_size: int,
    lr: float,
    weight_decay: float,
    epochs: int,
) -> tuple[list[float], list[float]]:
    """Train `net` for `epochs` epochs; return each epoch's wall and CPU seconds."""
    tensors = dataset_tensors(numbers, categories, targets)
    loader = DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=True)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    criterion = torch.nn.BCEWithLogitsLoss()
    times, cpu_times = [], []
    net.train()
    for _ in range(epochs):
        start, cpu_start = time.perf_counter(), time.process_time()
        for batch in loader:
            x, c, y = unpack(batch)
            optimizer.zero_grad()
            loss = criterion(net(x, c).squeeze(-1), y.float())
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    return times, cpu_times


@torch.no_grad()
def accuracy(
    net: torch.nn.Module, numbers: torch.Tensor, categories: torch.Tensor, targets: torch.Tensor
) -> float:
    was_training = net.training
    net.eval()
    preds = (net(numbers, categories).squeeze(-1) > 0).long()
    net.train(was_training)
    return (preds == targets).float().mean().item()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True, help="rendered project (for SimpleDenseNet)")
    parser.add_argument("--package", default="my_project")
    parser.add_argument("--csv", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--hidden", type=int, nargs="+", default=[64])
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    import pandas as pd

    sys.path.insert(0, args.project)
    dense = importlib.import_module(f"{args.package}.models.components.simpledense")

    frame = pd.read_csv(args.csv)
    labels = frame.pop(args.target).astype(str)
    classes = sorted(labels.unique())
    features = torch.tensor(frame.to_numpy(dtype="float32"))
    targets = torch.tensor(labels.map({c: i for i, c in enumerate(classes)}).to_numpy())
    n = len(frame)
    n_val, n_test = round(0.15 * n), round(0.15 * n)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(42))
    train_idx, _, test_idx = torch.split(order, [n - n_val - n_test, n_val, n_test])
    mean, std = features[train_idx].mean(0), features[train_idx].std(0)
    features = (features - mean) / torch.where(std > 0, std, torch.ones_like(std))

    torch.manual_seed(args.seed)
    # A numeric table: no categorical columns, so no embeddings.
    categories = torch.empty((n, 0), dtype=torch.long)
    net = dense.SimpleDenseNet(
        numeric_features=features.shape[1], category_sizes=[], hidden_sizes=args.hidden
    )
    times, _ = train(
        net,
        features[train_idx],
        categories[train_idx],
        targets[train_idx],
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        epochs=args.epochs,
    )
    result = {
        "epochs": args.epochs,
        "seconds": sum(times),
        "test_acc": accuracy(net, features[test_idx], categories[test_idx], targets[test_idx]),
        "torch_imported": "torch" in sys.modules,
        "lightning_imported": "lightning" in sys.modules,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
