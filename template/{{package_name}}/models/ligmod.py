"""The LightningModule shared by every task: steps, epoch metrics and optimisation.

What differs between tasks (loss, metrics, prediction head, the best metric and the
test figure) lives in a thin subclass in this folder: binary.py, multiclass.py or
regression.py, whichever this project was made for.
"""

from typing import Any, ClassVar

import hydra
import torch
from lightning import LightningModule
from torchmetrics import MaxMetric, MeanMetric, MetricCollection, MinMetric

from ..errors import LossNotFinite, older_checkpoint

Batch = tuple[torch.Tensor, ...]


class LigMod(LightningModule):
    """Trains `net` on (numbers, categories, target) batches.

    The constructor takes plain config values (the network's and the optimizer's
    `_target_` dicts), which are saved as the hyperparameters: a checkpoint then rebuilds
    the model alone (`from_checkpoint`) and loads with `torch.load(weights_only=True)`.

    Steps keep their outputs; the metrics take a whole epoch's outputs at once and are
    computed once per epoch: exact (a mean over the epoch, synced across processes) and
    far cheaper than calling or updating metric objects on every step.
    """

    # Set by each task's subclass.
    TASK: ClassVar[str]
    # The validation metric whose best value sweeps optimise, and whether higher is better.
    BEST: ClassVar[str]
    HIGHER_IS_BETTER: ClassVar[bool]

    def __init__(
        self,
        net: dict[str, Any],
        optimizer: dict[str, Any],
        scheduler: dict[str, Any] | None = None,
        class_weights: list[float] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)
        self.net = hydra.utils.instantiate(net, _convert_="all")
        self.criterion = self.init_task(class_weights)
        metrics = self.make_metrics()
        # Each step's (loss, predictions, targets), fed to the metrics once per epoch.
        self.outputs: dict[str, list[tuple[torch.Tensor, ...]]] = {
            "train": [],
            "val": [],
            "test": [],
        }
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        # A trivial model's scores on the same test rows, beside every test score.
        self.baseline_metrics = metrics.clone(prefix="baseline/")
        self.train_loss, self.val_loss, self.test_loss = MeanMetric(), MeanMetric(), MeanMetric()
        # Best validation value of BEST so far: what sweeps optimise (optimized_metric).
        # Saved in checkpoints, so a resumed run keeps it.
        self.val_best = MaxMetric() if self.HIGHER_IS_BETTER else MinMetric()
        self.val_best.persistent(True)

    # -- what each task defines ------------------------------------------------------

    def init_task(self, class_weights: list[float] | None) -> torch.nn.Module:
        """Create the task's own state (e.g. its test summary); return its loss."""
        raise NotImplementedError

    def make_metrics(self) -> MetricCollection:
        raise NotImplementedError

    def score(self, out: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, predictions in the metrics' terms) of the network's output."""
        raise NotImplementedError

    def predict(self, out: torch.Tensor) -> dict[str, torch.Tensor]:
        """The prediction columns (label/probability or value) of the network's output."""
        raise NotImplementedError

    def baseline(self, train_targets: torch.Tensor, rows: int) -> torch.Tensor:
        """Predictions, in the metrics' terms, of a trivial model fitted on the training
        targets: the majority class, or the mean."""
        raise NotImplementedError

    def summarise_test(self, preds: torch.Tensor, targets: torch.Tensor) -> None:
        """Keep what draw_test_figure needs from the whole test set (every process)."""
        raise NotImplementedError

    def draw_test_figure(self, axes: Any, classes: list[str]) -> str | None:
        """Draw the test-set figure on matplotlib `axes`; return its name (None: no test)."""
        raise NotImplementedError

    # -- building ------------------------------------------------------------------

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any]) -> "LigMod":
        """The trained model of a checkpoint loaded with torch.load, in eval mode."""
        if "model_class" not in checkpoint:
            raise older_checkpoint("model class")
        model_class = hydra.utils.get_class(checkpoint["model_class"])
        model = model_class(**checkpoint["hyper_parameters"])
        model.load_state_dict(checkpoint["state_dict"])
        return model.eval()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["model_class"] = f"{type(self).__module__}.{type(self).__qualname__}"

    # -- steps -----------------------------------------------------------------------

    def forward(self, numbers: torch.Tensor, categories: torch.Tensor) -> torch.Tensor:
        return self.net(numbers, categories)

    def model_step(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Loss, predictions in the metrics' terms, and targets for one batch."""
        numbers, categories, targets = batch
        loss, preds = self.score(self(numbers, categories), targets)
        return loss, preds, targets

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss, preds, targets = self.model_step(batch)
        self.outputs["train"].append((loss.detach(), preds.detach(), targets))
        return loss

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train", self.train_loss, self.train_metrics)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self.outputs["val"].append(self.model_step(batch))

    def on_validation_epoch_end(self) -> None:
        values = self._log_epoch("val", self.val_loss, self.val_metrics)
        if not values or self.trainer.sanity_checking:  # a few batches before training
            return
        self.val_best.update(values[f"val/{self.BEST}"])
        self.log(f"val/{self.BEST}_best", self.val_best.compute(), prog_bar=True, sync_dist=True)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self.outputs["test"].append(self.model_step(batch))

    def on_test_epoch_end(self) -> None:
        if not self.outputs["test"]:  # e.g. limit_test_batches=0
            return
        preds = torch.cat([preds for _, preds, _ in self.outputs["test"]])
        targets = torch.cat([targets for _, _, targets in self.outputs["test"]])
        self.summarise_test(preds, targets)
        self._log_epoch("test", self.test_loss, self.test_metrics)
        self._log_baseline(targets)

    def predict_step(self, batch: Batch, batch_idx: int = 0) -> dict[str, torch.Tensor]:
        """(numbers, categories) -> the prediction columns predict.py writes."""
        numbers, categories = batch[:2]
        return self.predict(self(numbers, categories))

    def _log_epoch(
        self, stage: str, loss: MeanMetric, metrics: MetricCollection
    ) -> dict[str, torch.Tensor]:
        """Update the stage's metrics with its whole epoch at once, compute them (synced
        across processes), log and reset. A loss that is not finite stops the run."""
        if not self.outputs[stage]:  # e.g. limit_val_batches=0
            return {}
        losses, preds, targets = zip(*self.outputs[stage], strict=True)
        self.outputs[stage].clear()
        loss.update(torch.stack(losses), weight=torch.tensor([len(t) for t in targets]))
        value = loss.compute()
        loss.reset()
        if not torch.isfinite(value) and not self.trainer.sanity_checking:
            raise LossNotFinite(
                f"the {stage} loss became {value.item()} in epoch {self.current_epoch}, so "
                f"training stopped; the learning rate (model.optimizer.lr="
                f"{self.hparams.optimizer.get('lr')}) is likely too high: lower it."
            )
        metrics.update(torch.cat(preds), torch.cat(targets))
        values = {f"{stage}/loss": value, **metrics.compute()}
        metrics.reset()
        # compute() has already combined all processes' updates, so every process holds
        # the same values; sync_dist=True averages these equal scalars once per epoch, a
        # negligible cost, and keeps Lightning from warning under DDP.
        self.log(f"{stage}/loss", value, prog_bar=True, sync_dist=True)
        self.log_dict(
            {name: v for name, v in values.items() if name != f"{stage}/loss"}, sync_dist=True
        )
        return values

    def _log_baseline(self, targets: torch.Tensor) -> None:
        """Log baseline/<metric>: the test metrics of `baseline` on the same test rows."""
        datamodule = self.trainer.datamodule
        if datamodule is None or datamodule.data_train is None:
            return
        train_targets = datamodule.data_train.targets.to(targets.device)
        self.baseline_metrics.update(self.baseline(train_targets, len(targets)), targets)
        self.log_dict(self.baseline_metrics.compute(), sync_dist=True)
        self.baseline_metrics.reset()

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = hydra.utils.instantiate(self.hparams.optimizer)(params=self.parameters())
        if self.hparams.scheduler is None:
            return {"optimizer": optimizer}
        return {
            "optimizer": optimizer,
            "lr_scheduler": {
                "scheduler": hydra.utils.instantiate(self.hparams.scheduler)(optimizer=optimizer),
                "monitor": "val/loss",
                "interval": "epoch",
                "frequency": 1,
            },
        }
