"""The least a LightningModule can do: what Lightning's own loop costs per step.

Same network, loss and optimizer as LigMod, trained by the same Trainer config on the
generated project's DataModule, but with no metrics and no logging. It is not a
contender with a target: it shows how close any LightningModule can get to the
hand-written loop on this machine, i.e. which part of the gap the template can close.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from lightning import LightningModule


class FloorModule(LightningModule):
    def __init__(self, net: torch.nn.Module, optimizer: Callable[..., torch.optim.Optimizer]):
        super().__init__()
        self.net = net
        self.optimizer_factory = optimizer
        self.criterion = torch.nn.BCEWithLogitsLoss()

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        numbers, categories, targets = batch
        return self.criterion(self.net(numbers, categories).squeeze(-1), targets.float())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(params=self.parameters())
