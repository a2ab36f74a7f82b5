"""Split rows into train, validation and test sets, stratified by class when there are classes."""

import numpy as np

from ..errors import UserError


def split_sizes(split: list[float], n: int) -> list[int]:
    """Turn train/val/test fractions (summing to 1) or counts (summing to n) into counts."""
    if len(split) != 3 or any(v < 0 for v in split):
        raise UserError(
            f"data.train_val_test_split is {list(split)}; give three non-negative numbers "
            f"for train, val and test, e.g. [0.7, 0.15, 0.15]."
        )
    counts = all((float(v).is_integer() and v >= 1) or v == 0 for v in split)
    if counts and sum(split) > 1:
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


def split_rows(
    sizes: list[int], seed: int, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of train, val and test with the given sizes, shuffled by `seed`.

    With `labels`, each class is spread over the splits in proportion to its size, and a
    class with at least three rows has a row in every split.
    """
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    if labels is None:
        order = rng.permutation(n)
        return tuple(np.split(order, np.cumsum(sizes)[:2]))
    classes, inverse = np.unique(labels, return_inverse=True)
    counts = np.bincount(inverse)
    shares = class_shares(counts, sizes)
    parts: list[list[np.ndarray]] = [[], [], []]
    for c in range(len(classes)):
        rows = rng.permutation(np.flatnonzero(inverse == c))
        for part, chunk in zip(parts, np.split(rows, np.cumsum(shares[c])[:2]), strict=True):
            part.append(chunk)
    return tuple(rng.permutation(np.concatenate(part)) for part in parts)


def class_shares(counts: np.ndarray, sizes: list[int]) -> np.ndarray:
    """Rows of each class (rows) in train, val and test (columns), summing to `sizes`."""
    shares = np.zeros((len(counts), 3), dtype=np.int64)
    for s in (1, 2):
        quota = sizes[s] * counts / counts.sum()
        room = counts - shares.sum(axis=1) - 1  # keep a row for training
        take = np.minimum(np.maximum(np.floor(quota), counts >= 3), np.maximum(room, 0)).astype(int)
        while take.sum() > sizes[s]:  # the minimum of one row overshot: take back
            over = take > (counts >= 3)
            if not over.any():  # more classes than rows in this split
                over = take > 0
            take[np.argmax(np.where(over, take - quota, -np.inf))] -= 1
        while take.sum() < sizes[s]:  # hand out the rest by largest remainder
            free = take < np.maximum(room, 0)
            if not free.any():
                free = take < counts - shares.sum(axis=1)
            take[np.argmax(np.where(free, quota - take, -np.inf))] += 1
        shares[:, s] = take
    shares[:, 0] = counts - shares[:, 1] - shares[:, 2]
    return shares


def fold_rows(
    rows: np.ndarray, folds: int, fold: int, seed: int, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) of K-fold cross-validation over `rows`: fold `fold` validates.

    The rows are dealt into `folds` folds after a shuffle by `seed`; with `labels`, each
    class is dealt on its own, so every fold keeps the class shares (stratified).
    """
    if not isinstance(folds, int) or folds < 2 or folds > len(rows):
        raise UserError(
            f"data.folds is {folds!r}; use a whole number from 2 to {len(rows)} (the rows "
            f"outside the test split), or null for a single train/val split."
        )
    if not isinstance(fold, int) or not 0 <= fold < folds:
        raise UserError(
            f"data.fold is {fold!r}; with data.folds={folds} use 0 to {folds - 1}, or run "
            f"them all: python main.py -m data.folds={folds} 'data.fold=range({folds})'."
        )
    rng = np.random.default_rng(seed)
    if labels is None:
        groups = [rows]
    else:
        groups = [rows[labels[rows] == c] for c in np.unique(labels[rows])]
    assignment = np.empty(rows.max() + 1, dtype=np.int64)
    start = 0
    for group in groups:
        shuffled = rng.permutation(group)
        # Continue dealing where the last class stopped, so fold sizes stay even.
        assignment[shuffled] = (start + np.arange(len(shuffled))) % folds
        start += len(shuffled)
    in_fold = assignment[rows] == fold
    return rng.permutation(rows[~in_fold]), rng.permutation(rows[in_fold])
