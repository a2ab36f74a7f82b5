"""Loads a CSV into memory and serves train/val/test batches for Lightning.

The whole table fits in memory as tensors, so each batch is sliced out with one
index operation (`InMemoryDataset.__getitems__`) instead of being collated row by
row: this keeps a small model's training loop as fast as a hand-written one.
"""

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from lightning import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from ..errors import UserError

TASKS = ("binary", "multiclass", "regression")


class InMemoryDataset(Dataset):
    """Feature and target tensors that are indexed a whole batch at a time."""

    def __init__(self, features: torch.Tensor, targets: torch.Tensor) -> None:
        self.features = features
        self.targets = targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.features[index], self.targets[index]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Called by the DataLoader with a batch's indices: one gather per tensor."""
        index = torch.as_tensor(indices)
        return self.features[index], self.targets[index]


def keep_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """collate_fn for batches that `__getitems__` has already stacked."""
    return batch


class DataModule(LightningDataModule):
    """A CSV file split into train/val/test, with features standardised on the train split.

    The label mapping, feature names and scaling statistics are saved in every
    checkpoint (`state_dict`), so a checkpoint alone is enough to evaluate or predict.
    """

    def __init__(
        self,
        path: str,
        target: str,
        task: str,
        features: list[str] | None = None,
        num_classes: int | None = None,
        train_val_test_split: tuple[float, float, float] = (0.7, 0.15, 0.15),
        split_seed: int = 42,
        batch_size: int = 128,
        num_workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        # Saved in checkpoints; plain values only, so they load with weights_only=True.
        self.save_hyperparameters(logger=False)
        self.data_train: InMemoryDataset | None = None
        self.data_val: InMemoryDataset | None = None
        self.data_test: InMemoryDataset | None = None
        # What inference needs; filled by setup() or restored by load_state_dict().
        self.feature_names: list[str] = []
        self.classes: list[str] = []
        self.mean: torch.Tensor | None = None
        self.std: torch.Tensor | None = None
        # Regression only: train-split statistics of the target, for LigMod to learn
        # the target in standard units.
        self.target_mean = 0.0
        self.target_std = 1.0

    @property
    def num_features(self) -> int:
        """Input width of the network; known once setup() has read the data."""
        return len(self.feature_names)

    def prepare_data(self) -> None:
        """Runs once per machine before setup(): check that the file is there."""
        self._resolve_path()

    def setup(self, stage: str | None = None) -> None:
        """Read, check, split and scale the data (on every process; idempotent)."""
        if self.data_train is not None:
            return
        if self.hparams.task not in TASKS:
            raise UserError(f"data.task is {self.hparams.task!r}; use one of {', '.join(TASKS)}.")
        frame = self._read_csv()
        features, targets = self._to_tensors(frame)
        train_idx, val_idx, test_idx = self._split_indices(len(frame))
        if self.mean is None:  # not restored from a checkpoint
            self.mean = features[train_idx].mean(dim=0)
            std = (
                features[train_idx].std(dim=0) if len(train_idx) > 1 else torch.ones_like(self.mean)
            )
            self.std = torch.where(std > 0, std, torch.ones_like(std))
            if self.hparams.task == "regression":
                self.target_mean = targets[train_idx].mean().item()
                self.target_std = targets[train_idx].std().item() if len(train_idx) > 1 else 1.0
                self.target_std = self.target_std or 1.0
        features = (features - self.mean) / self.std
        self.data_train = InMemoryDataset(features[train_idx], targets[train_idx])
        self.data_val = InMemoryDataset(features[val_idx], targets[val_idx])
        self.data_test = InMemoryDataset(features[test_idx], targets[test_idx])

    def train_dataloader(self) -> DataLoader:
        # A last batch of a single row would stop training: BatchNorm needs two rows.
        # Under DDP each process gets its share of the rows.
        processes = self.trainer.world_size if self.trainer else 1
        rows = math.ceil(len(self.data_train) / processes)
        single_row_tail = rows % self.hparams.batch_size == 1
        return self._loader(self.data_train, shuffle=True, drop_last=single_row_tail)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.data_val, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.data_test, shuffle=False)

    def teardown(self, stage: str | None = None) -> None:
        """Nothing to release: the tensors are freed with the module."""

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint needs to turn raw CSV rows into model inputs and back."""
        return {
            "feature_names": list(self.feature_names),
            "classes": list(self.classes),
            "mean": self.mean,
            "std": self.std,
            "target_mean": self.target_mean,
            "target_std": self.target_std,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Adopt a checkpoint's scaling and labels, re-scaling data already loaded."""
        if self.data_train is not None and self._holds(state_dict):
            return  # e.g. testing this run's best checkpoint: the data is scaled already
        self.feature_names = list(state_dict["feature_names"])
        self.classes = list(state_dict["classes"])
        self.mean, self.std = state_dict["mean"], state_dict["std"]
        self.target_mean, self.target_std = state_dict["target_mean"], state_dict["target_std"]
        if self.data_train is not None:
            self.data_train = self.data_val = self.data_test = None
            self.setup()

    # -- helpers -----------------------------------------------------------------

    def _holds(self, state_dict: dict[str, Any]) -> bool:
        """Whether this module's state already equals `state_dict`."""
        return (
            state_dict["feature_names"] == self.feature_names
            and state_dict["classes"] == self.classes
            and torch.equal(state_dict["mean"], self.mean)
            and torch.equal(state_dict["std"], self.std)
            and state_dict["target_mean"] == self.target_mean
            and state_dict["target_std"] == self.target_std
        )

    def _resolve_path(self) -> Path:
        path = Path(self.hparams.path)
        if not path.is_file():
            raise UserError(
                f"data.path: no file at {path.resolve()} (a relative path starts in the "
                f"current directory); point data.path at your CSV, e.g. data.path=data/my.csv."
            )
        return path

    def _read_csv(self) -> pd.DataFrame:
        path = self._resolve_path()
        frame = read_table(path)
        target = self.hparams.target
        if target not in frame.columns:
            raise UserError(
                f"data.target: {path} has no column {target!r}; its columns are "
                f"{', '.join(map(str, frame.columns))}. Set data.target to one of them."
            )
        features = self.hparams.features
        if isinstance(features, str):  # data.features=age means [age]
            features = [features]
        names = features or [c for c in frame.columns if c != target]
        if target in names:
            raise UserError(f"data.features lists the target {target!r}; remove it.")
        frame = check_columns(frame, [*names, target], path, numeric=names)
        if self.feature_names and self.feature_names != names:
            raise UserError(
                f"{path} has feature columns {names}, but the checkpoint was trained on "
                f"{self.feature_names}; use data with the same columns."
            )
        self.feature_names = [str(c) for c in names]
        return frame

    def features_of(self, rows: pd.DataFrame, path: Path) -> torch.Tensor:
        """Model inputs from rows read from `path` (see read_table): the trained feature
        columns (others are ignored), scaled as in training. What predict.py feeds the model."""
        names = self.feature_names
        frame = check_columns(rows, names, path, numeric=names)
        features = torch.tensor(frame.to_numpy(dtype="float32"))
        return (features - self.mean) / self.std

    def _to_tensors(self, frame: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        features = torch.tensor(frame[self.feature_names].to_numpy(dtype="float32"))
        column = frame[self.hparams.target]
        if self.hparams.task == "regression":
            if not pd.api.types.is_numeric_dtype(column):
                raise UserError(
                    f"data.target {self.hparams.target!r} is not numeric, but a regression "
                    f"model predicts numbers; set data.target to a numeric column."
                )
            return features, torch.tensor(column.to_numpy(dtype="float32"))
        return features, self._encode_labels(column)

    def _encode_labels(self, column: pd.Series) -> torch.Tensor:
        labels = column.astype(str)
        found = sorted(labels.unique())
        if not self.classes:
            self.classes = found
        allowed = 2 if self.hparams.task == "binary" else self.hparams.num_classes
        if len(self.classes) < 2:
            raise UserError(
                f"data.target {self.hparams.target!r} has only one class ({found[0]}); "
                f"classification needs at least two."
            )
        if len(self.classes) > allowed:
            raise UserError(
                f"data.target {self.hparams.target!r} has {len(self.classes)} classes, more "
                f"than the {allowed} a {self.hparams.task} model allows; "
                + (
                    "raise data.num_classes."
                    if self.hparams.task == "multiclass"
                    else "use a multiclass project for more than two classes."
                )
            )
        unknown = sorted(set(found) - set(self.classes))
        if unknown:
            raise UserError(
                f"data.target has labels {unknown} that the checkpoint does not know "
                f"(it knows {self.classes})."
            )
        index = {label: i for i, label in enumerate(self.classes)}
        return torch.tensor(labels.map(index).to_numpy(), dtype=torch.long)

    def _split_indices(self, n: int) -> list[torch.Tensor]:
        sizes = split_sizes(self.hparams.train_val_test_split, n)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.hparams.split_seed))
        return list(torch.split(order, sizes))

    def _loader(
        self, dataset: InMemoryDataset | None, shuffle: bool, drop_last: bool = False
    ) -> DataLoader:
        return DataLoader(
            dataset=dataset,
            batch_size=self.hparams.batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            collate_fn=keep_batch,
            num_workers=self.hparams.num_workers,
            pin_memory=self.hparams.pin_memory,
            persistent_workers=self.hparams.num_workers > 0,
        )


def read_table(path: Path) -> pd.DataFrame:
    """The CSV at `path`, with at least one data row."""
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise UserError(f"no file at {path.resolve()}; check the path.") from None
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty; it needs a header row and data rows.") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        reason = " ".join(str(err).split())
        raise UserError(
            f"{path} is not a readable CSV file ({reason}); check its format."
        ) from None
    if frame.empty:
        raise UserError(f"{path} has a header but no data rows; add rows to train on.")
    return frame


def check_columns(
    frame: pd.DataFrame, names: list[str], path: Path, numeric: list[str]
) -> pd.DataFrame:
    """The columns `names` of `frame`, all present and complete, and `numeric` numeric."""
    unknown = [c for c in names if c not in frame.columns]
    if unknown:
        raise UserError(
            f"{path} has no column(s) {', '.join(map(str, unknown))}; its columns are "
            f"{', '.join(map(str, frame.columns))}."
        )
    frame = frame[names]
    missing = frame.isna().sum()
    missing = missing[missing > 0]
    if len(missing):
        counts = ", ".join(f"{col}: {n}" for col, n in missing.items())
        raise UserError(f"{path} has missing values ({counts}); fill or drop those rows first.")
    text = [c for c in numeric if not pd.api.types.is_numeric_dtype(frame[c])]
    if text:
        raise UserError(
            f"{path}: feature column(s) {', '.join(map(str, text))} are not numeric; encode "
            f"them as numbers or leave them out with data.features=[...]."
        )
    infinite = [c for c in numeric if np.isinf(frame[c].to_numpy(dtype="float64")).any()]
    if infinite:
        raise UserError(
            f"{path}: column(s) {', '.join(map(str, infinite))} hold infinite values; "
            f"replace or drop those rows first."
        )
    return frame


def split_sizes(split: list[float], n: int) -> list[int]:
    """Turn train/val/test fractions (summing to 1) or counts (summing to n) into counts."""
    if len(split) != 3 or any(v < 0 for v in split):
        raise UserError(
            f"data.train_val_test_split is {list(split)}; give three non-negative numbers "
            f"for train, val and test, e.g. [0.7, 0.15, 0.15]."
        )
    if all(float(v).is_integer() and v >= 1 or v == 0 for v in split) and sum(split) > 1:
        sizes = [int(v) for v in split]
        if sum(sizes) != n:
            raise UserError(
                f"data.train_val_test_split counts {sizes} sum to {sum(sizes)}, but the data "
                f"has {n} rows; make them sum to {n} or use fractions such as [0.7, 0.15, 0.15]."
            )
    else:
        if abs(sum(split) - 1) > 1e-6:
            raise UserError(
                f"data.train_val_test_split fractions {list(split)} sum to {sum(split):g}, "
                f"not 1; e.g. use [0.7, 0.15, 0.15]."
            )
        val, test = round(split[1] * n), round(split[2] * n)
        sizes = [n - val - test, val, test]
    if min(sizes) == 0:
        raise UserError(
            f"data.train_val_test_split {list(split)} leaves an empty split for {n} rows "
            f"(sizes {sizes}); give each of train, val and test at least one row."
        )
    return sizes
