"""Serve a table's train/val/test rows to Lightning as in-memory tensors.

The table is read (data/table.py), split (data/split.py), and turned into float and
category-index tensors by a preprocessing step fitted on the training split
(data/preprocessing.py). Each batch is then sliced out with one index operation
(`InMemoryDataset.__getitems__`) instead of being collated row by row, which keeps a
small model's training loop as fast as a hand-written one.
"""

import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from lightning import LightningDataModule
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..errors import UserError, older_checkpoint
from .preprocessing import Preprocessor
from .roles import infer_roles
from .split import fold_rows, split_rows, split_sizes
from .table import read_table
from .target import Target

log = logging.getLogger(__name__)

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class InMemoryDataset(Dataset):
    """Float inputs, category indices and targets, indexed a whole batch at a time."""

    def __init__(self, numbers: torch.Tensor, categories: torch.Tensor, targets: torch.Tensor):
        self.numbers = numbers
        self.categories = categories
        self.targets = targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> Batch:
        return self.numbers[index], self.categories[index], self.targets[index]

    def __getitems__(self, indices: list[int]) -> Batch:
        """Called by the DataLoader with a batch's indices: one gather per tensor."""
        index = torch.as_tensor(indices)
        return self.numbers[index], self.categories[index], self.targets[index]


class ExactShares(DistributedSampler):
    """Each process's share of the rows, without the repeated rows DistributedSampler adds
    to even out the shares: under DDP the test metrics are those of the exact test set."""

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, len(self.dataset), self.num_replicas))

    def __len__(self) -> int:
        return len(range(self.rank, len(self.dataset), self.num_replicas))


def keep_batch(batch: Batch) -> Batch:
    """collate_fn for batches that `__getitems__` has already stacked."""
    return batch


def data_state(state_dict: dict[str, Any]) -> tuple[Preprocessor, Target]:
    """The preprocessing and target of a checkpoint's DataModule state (`state_dict()`)."""
    if "preprocessor" not in state_dict:
        raise older_checkpoint("preprocessing state")
    return Preprocessor(state_dict["preprocessor"]), Target(**state_dict["target"])


class DataModule(LightningDataModule):
    """A table split into train/val/test, with preprocessing fitted on the train split.

    The preprocessing (column roles, medians, scaling, category vocabularies) and the
    target's classes are saved in every checkpoint (`state_dict`) as plain values, so a
    checkpoint alone is enough to evaluate or predict.
    """

    def __init__(
        self,
        path: str,
        target: str,
        task: str,
        features: list[str] | None = None,
        categorical: list[str] | None = None,
        numeric: list[str] | None = None,
        drop: list[str] | None = None,
        missing: str = "impute",
        min_category_count: int = 3,
        class_weights: str | None = None,
        sep: str | None = None,
        decimal: str | None = None,
        train_val_test_split: tuple[float, float, float] = (0.7, 0.15, 0.15),
        split_seed: int = 42,
        folds: int | None = None,
        fold: int = 0,
        batch_size: int = 128,
        num_workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        # Saved in checkpoints; plain values only, so they load with weights_only=True.
        self.save_hyperparameters(logger=False)
        self.target = Target(target, task)
        self.preprocessor: Preprocessor | None = None  # fitted in setup() or restored
        # Balanced loss weights of the training split (data.class_weights=balanced).
        self.loss_weights: list[float] | None = None
        self.data_train: InMemoryDataset | None = None
        self.data_val: InMemoryDataset | None = None
        self.data_test: InMemoryDataset | None = None

    def prepare_data(self) -> None:
        """Runs once per machine before setup(): check that the file is there."""
        self._resolve_path()

    def setup(self, stage: str | None = None) -> None:
        """Read, check and split the table, fit the preprocessing (on every process; idempotent)."""
        if self.data_train is not None:
            return
        hp = self.hparams
        check_choice("data.missing", hp.missing, ("impute", "error"))
        check_choice("data.class_weights", hp.class_weights, (None, "balanced"))
        frame, targets, (train, val, test) = self._split()
        if self.preprocessor is None:  # not restored from a checkpoint
            options = {name: as_list(hp[name]) for name in ("categorical", "numeric", "drop")}
            features = None if hp.features is None else as_list(hp.features)
            train_rows = frame.iloc[train]
            roles = infer_roles(train_rows, hp.target, features, **options)
            self.preprocessor = Preprocessor.fit(train_rows, roles, hp.min_category_count)
            del train_rows  # a copy of the training rows: free it before transform
        if hp.class_weights == "balanced":
            self.loss_weights = self.target.loss_weights(targets[train])
        numbers, categories = self.preprocessor.transform(frame)
        self.data_train, self.data_val, self.data_test = (
            InMemoryDataset(numbers[rows], categories[rows], targets[rows])
            for rows in map(torch.from_numpy, (train, val, test))
        )

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
        sampler = None
        if self.trainer is not None and self.trainer.world_size > 1:
            sampler = ExactShares(
                self.data_test, num_replicas=self.trainer.world_size, rank=self.trainer.global_rank
            )
        return self._loader(self.data_test, shuffle=False, sampler=sampler)

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint needs to turn raw rows into model inputs and outputs into labels."""
        return {"preprocessor": self.preprocessor.state, "target": self.target.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Adopt a checkpoint's preprocessing and classes, redoing data already loaded."""
        if self.data_train is not None and state_dict == self.state_dict():
            return  # e.g. testing this run's best checkpoint: the data is ready
        self.preprocessor, self.target = data_state(state_dict)
        if self.data_train is not None:
            self.data_train = self.data_val = self.data_test = None
            self.setup()

    def test_rows(self) -> pd.DataFrame:
        """The test split's rows as the table holds them (export.py checks its model on them)."""
        frame, _, (_, _, test) = self._split()
        return frame.iloc[np.sort(test)].reset_index(drop=True)

    # -- helpers -----------------------------------------------------------------

    def _split(self) -> tuple[pd.DataFrame, torch.Tensor, tuple[np.ndarray, ...]]:
        """The table, its encoded targets, and the row indices of train, val and test."""
        hp = self.hparams
        frame = self._read()
        targets = self.target.encode(frame[hp.target])
        sizes = split_sizes(hp.train_val_test_split, len(frame))
        strata = targets.numpy() if self.target.stratify else None
        train, val, test = split_rows(sizes, hp.split_seed, strata)
        if hp.folds is not None:  # cross-validation: the test split stays as it is
            rest = np.sort(np.concatenate([train, val]))
            train, val = fold_rows(rest, hp.folds, hp.fold, hp.split_seed, strata)
        return frame, targets, (train, val, test)

    def _resolve_path(self) -> Path:
        path = Path(self.hparams.path)
        if not path.is_file():
            raise UserError(
                f"data.path: no file at {path.resolve()} (a relative path starts in the "
                f"current directory); point data.path at your table, e.g. data.path=data/my.csv."
            )
        return path

    def _read(self):
        """The table, with rows whose target is blank dropped (or refused, data.missing=error)."""
        hp = self.hparams
        path = self._resolve_path()
        frame = read_table(path, hp.sep, hp.decimal)
        if hp.target not in frame.columns:
            raise UserError(
                f"data.target: {path} has no column {hp.target!r}; its columns are "
                f"{', '.join(frame.columns)}. Set data.target to one of them."
            )
        if hp.missing == "error":
            features = None if hp.features is None else as_list(hp.features)
            refuse_blanks(frame, path, hp.target, skip=as_list(hp.drop), features=features)
        blank = frame[hp.target].isna()
        if blank.all():
            raise UserError(
                f"data.target {hp.target!r} is blank in every row of {path}; pick a column "
                f"with values to learn."
            )
        if blank.any():
            log.warning(
                f"Dropped {int(blank.sum())} of {len(frame)} rows whose target "
                f"{hp.target!r} is blank."
            )
            frame = frame[~blank].reset_index(drop=True)
        return frame

    def _loader(
        self,
        dataset: InMemoryDataset | None,
        shuffle: bool,
        drop_last: bool = False,
        sampler: DistributedSampler | None = None,
    ) -> DataLoader:
        return DataLoader(
            dataset=dataset,
            batch_size=self.hparams.batch_size,
            shuffle=shuffle,
            sampler=sampler,
            drop_last=drop_last,
            collate_fn=keep_batch,
            num_workers=self.hparams.num_workers,
            pin_memory=self.hparams.pin_memory,
            persistent_workers=self.hparams.num_workers > 0,
        )


def as_list(value: str | list[str] | None) -> list[str]:
    """A config list; a single name on the command line (data.drop=id) means [id]."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def check_choice(option: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        shown = ", ".join("null" if c is None else str(c) for c in choices)
        raise UserError(f"{option} is {value!r}; use one of {shown}.")


def refuse_blanks(
    frame, path: Path, target: str, skip: list[str], features: list[str] | None
) -> None:
    """data.missing=error: stop if the target or any column the run could use has a blank."""
    columns = [
        c
        for c in frame.columns
        if c == target or (c not in skip and (features is None or c in features))
    ]
    counts = frame[columns].isna().sum()
    counts = counts[counts > 0]
    if len(counts):
        listed = ", ".join(f"{column}: {n}" for column, n in counts.items())
        raise UserError(
            f"{path} has missing values ({listed}) and data.missing is error; fill or drop "
            f"those rows, or set data.missing=impute."
        )
