"""The seed tutorial's training pattern, for comparison with the generated project.

The tutorial (shared/seed/hydra_lightning_tutorial.md) serves rows one at a time from a
`Dataset.__getitem__` (the DataLoader's default collate stacks them into a batch) and
calls its torchmetrics objects in every step, `self.train_acc(preds, targets)`, then
logs the metric object. Its bugs are not copied (2-logit CrossEntropy with a binary
Accuracy, `pd.read`, ...): this is the same network, loss, optimizer and data as the
generated project, so only the two patterns differ. Its data config also used
num_workers=1 and pin_memory=True; the benchmark uses 0 and False for every contender.

Rows are (numbers, targets), or (numbers, categories, targets) when the table has
categorical columns: like the hand-written loop, it does not index an empty category
tensor row by row (hand_loop.dataset_tensors), which would only slow it down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from hand_loop import dataset_tensors, unpack
from lightning import LightningModule
from torch.utils.data import DataLoader, Dataset
from torchmetrics import MeanMetric
from torchmetrics.classification.accuracy import Accuracy


class RowDataset(Dataset):
    """One row per `__getitem__`; the DataLoader collates the rows of a batch."""

    def __init__(self, *tensors: torch.Tensor) -> None:
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors[-1])

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, ...]:
        return tuple(tensor[idx] for tensor in self.tensors)


def row_loader(
    numbers: torch.Tensor, categories: torch.Tensor, targets: torch.Tensor, batch_size: int
) -> DataLoader:
    """The tutorial's train_dataloader (with num_workers=0, pin_memory=False)."""
    return DataLoader(
        dataset=RowDataset(*dataset_tensors(numbers, categories, targets)),
        batch_size=batch_size,
        num_workers=0,
        pin_memory=False,
        shuffle=True,
    )


class TutorialLigMod(LightningModule):
    """The tutorial's LigMod for a binary task with one logit."""

    def __init__(
        self,
        net: torch.nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__()
        # The tutorial saves `net` too; that only adds a warning, not loop time.
        self.save_hyperparameters(logger=False, ignore=["net"])
        self.net = net
        self.criterion = torch.nn.BCEWithLogitsLoss()
        self.train_acc = Accuracy(task="binary")
        self.val_acc = Accuracy(task="binary")
        self.test_acc = Accuracy(task="binary")
        self.train_loss = MeanMetric()
        self.val_loss = MeanMetric()
        self.test_loss = MeanMetric()

    def forward(self, numbers: torch.Tensor, categories: torch.Tensor) -> torch.Tensor:
        return self.net(numbers, categories)

    def on_train_start(self) -> None:
        self.val_loss.reset()
        self.val_acc.reset()

    def model_step(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, c, y = unpack(batch)
        logits = self.forward(x, c).squeeze(-1)
        loss = self.criterion(logits, y.float())
        preds = torch.sigmoid(logits)
        return loss, preds, y

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss, preds, targets = self.model_step(batch)

        # update and log metrics (the tutorial's pattern: call the metric, log the object)
        self.train_loss(loss)
        self.train_acc(preds, targets)
        self.log("train/loss", self.train_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        loss, preds, targets = self.model_step(batch)
        self.val_loss(loss)
        self.val_acc(preds, targets)
        self.log("val/loss", self.val_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("val/acc", self.val_acc, on_step=False, on_epoch=True, prog_bar=True)

    def configure_optimizers(self) -> Any:
        optimizer = self.hparams.optimizer(params=self.parameters())
        if self.hparams.scheduler is not None:
            scheduler = self.hparams.scheduler(optimizer=optimizer)
            return {
                "optimizer": optimizer,
                "lr_scheduler": {
                    "scheduler": scheduler,
                    "monitor": "val/loss",
                    "interval": "epoch",
                    "frequency": 1,
                },
            }
        return {"optimizer": optimizer}
