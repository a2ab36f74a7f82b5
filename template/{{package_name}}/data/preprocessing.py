"""Turn table rows into the network's inputs: a float tensor and a category-index tensor.

Fitted on the training split only, and saved as plain values (lists, strings, floats),
so a checkpoint holding it still loads with `torch.load(weights_only=True)`:

- numeric columns (and date parts): blanks filled with the training median, a 0/1
  "was blank" input added for each column that had blanks in training, then
  standardised with the training mean and standard deviation;
- categorical columns: values stripped of surrounding spaces and mapped to indices of
  a vocabulary; index 0 is "unknown", for values not seen in training and values seen
  fewer than `min_category_count` times. A blank is a category of its own.
"""

from typing import Any

import numpy as np
import pandas as pd
import torch

from ..errors import UserError
from .roles import CATEGORICAL, DATE, NUMERIC, Role, numbers_or_error

DATE_PARTS = ("year", "month", "day_of_week", "day_of_year")
FLOAT32_MAX = float(np.finfo(np.float32).max)
# Rows per block in `transform`: its buffer (inputs x rows, float32) stays small.
BLOCK_ROWS = 16384
BLANK = ""


class Preprocessor:
    """Fitted preprocessing: `fit` learns it from training rows, `transform` applies it."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        self.roles = [Role(**role) for role in state["roles"]]
        self.numeric = state["numeric"]
        self.categorical = state["categorical"]
        self._index = [
            {value: i + 1 for i, value in enumerate(entry["vocabulary"])}
            for entry in self.categorical
        ]

    @classmethod
    def fit(
        cls, train: pd.DataFrame, roles: list[Role], min_category_count: int = 1
    ) -> "Preprocessor":
        """Learn medians, scaling and vocabularies from `train`, the training split."""
        numeric = []
        for role in roles:
            if role.role not in (NUMERIC, DATE):
                continue
            for part, (name, values) in enumerate(numeric_inputs(train, role)):
                blank = np.isnan(values)
                median = float(np.nanmedian(values)) if not blank.all() else 0.0
                filled = np.where(blank, median, values)
                std = float(filled.std())
                numeric.append(
                    {
                        "name": name,
                        "column": role.column,
                        "median": median,
                        "mean": float(filled.mean()),
                        "std": std if std > 0 else 1.0,
                        # One "was blank" input per column: a date's parts are blank together.
                        "blank_input": bool(blank.any()) and part == 0,
                    }
                )
        categorical = []
        for role in roles:
            if role.role != CATEGORICAL:
                continue
            counts = category_counts(train[role.column])
            vocabulary = sorted(value for value, n in counts.items() if n >= min_category_count)
            categorical.append({"column": role.column, "vocabulary": vocabulary})
        return cls(
            {
                "roles": [role.as_dict() for role in roles],
                "numeric": numeric,
                "categorical": categorical,
            }
        )

    def describe(self) -> list[tuple[str, str, str]]:
        """(column, role, what was done and why) for every column, for the run's column table."""
        blanks = {entry["column"]: entry for entry in self.numeric if entry["blank_input"]}
        kept = {entry["column"]: entry["vocabulary"] for entry in self.categorical}
        rows = []
        for role in self.roles:
            done = role.reason
            if role.column in blanks and role.role == DATE:
                done += "; blanks: training medians + a was-blank input"
            elif role.column in blanks:
                median = blanks[role.column]["median"]
                done += f"; blanks: training median {median:g} + a was-blank input"
            if role.column in kept:
                blank = " (blank is one)" if BLANK in kept[role.column] else ""
                done += f"; {len(kept[role.column])} categories{blank} + unknown"
            rows.append((role.column, role.role, done))
        return rows

    @property
    def numeric_width(self) -> int:
        """Number of float inputs: numeric columns, date parts and "was blank" inputs."""
        return len(self.numeric) + sum(entry["blank_input"] for entry in self.numeric)

    @property
    def category_sizes(self) -> list[int]:
        """Embedding rows per categorical column: its vocabulary plus "unknown"."""
        return [len(entry["vocabulary"]) + 1 for entry in self.categorical]

    @property
    def columns(self) -> list[str]:
        """The table columns the model reads."""
        return [role.column for role in self.roles if role.used]

    def transform(self, frame: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        """(float inputs [rows, numeric_width], category indices [rows, categorical columns])."""
        missing = [name for name in self.columns if name not in frame.columns]
        if missing:
            raise UserError(
                f"the rows have no column(s) {', '.join(missing)}, which the model was trained "
                f"on; add them (blank values are allowed)."
            )
        rows = len(frame)
        by_name = {}
        for role in self.roles:
            if role.role in (NUMERIC, DATE):
                by_name.update(numeric_inputs(frame, role))
        numbers = np.empty((rows, self.numeric_width), dtype=np.float32)
        # The inputs are computed a block of rows at a time into a small (inputs x rows)
        # buffer, written along its rows, then copied into `numbers` transposed in one
        # operation: writing each input straight into a column of `numbers` strides
        # across every row and takes twice as long on a million rows.
        block = np.empty((self.numeric_width, min(rows, BLOCK_ROWS)), dtype=np.float32)
        for start in range(0, rows, BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, rows)
            part = block[:, : stop - start]
            blank_at = len(self.numeric)
            for i, entry in enumerate(self.numeric):
                values = by_name[entry["name"]][start:stop]
                blank = np.isnan(values)
                filled = np.where(blank, entry["median"], values)
                filled -= entry["mean"]
                filled /= entry["std"]
                part[i] = filled
                if entry["blank_input"]:
                    part[blank_at] = blank
                    blank_at += 1
            numbers[start:stop] = part.T
        categories = np.empty((rows, len(self.categorical)), dtype=np.int64)
        for i, (entry, index) in enumerate(zip(self.categorical, self._index, strict=True)):
            categories[:, i] = category_indices(frame[entry["column"]], index)
        return torch.from_numpy(numbers), torch.from_numpy(categories)


def numeric_inputs(frame: pd.DataFrame, role: Role) -> list[tuple[str, np.ndarray]]:
    """(input name, float64 values with NaN for blanks) of a numeric or date column."""
    if role.role == DATE:
        text = frame[role.column].astype("string").str.strip().replace(BLANK, pd.NA)
        dates = pd.to_datetime(text, format=role.date_format, errors="coerce")
        unreadable = text.notna() & dates.isna()
        if unreadable.any():
            raise UserError(
                f"column {role.column!r} holds {text[unreadable].iloc[0]!r}, which is not a date "
                f"in the format of training ({role.date_format}); fix or blank those values."
            )
        parts = {part: getattr(dates.dt, part).to_numpy(dtype="float64") for part in DATE_PARTS}
        return [(f"{role.column}.{part}", values) for part, values in parts.items()]
    values = numbers_or_error(frame[role.column], role.column).to_numpy(
        dtype="float64", na_value=np.nan
    )
    finite = values[~np.isnan(values)]
    if np.isinf(finite).any():
        raise UserError(
            f"column {role.column!r} holds infinite values; replace or blank those cells."
        )
    if finite.size and np.abs(finite).max() > FLOAT32_MAX:
        raise UserError(
            f"column {role.column!r} holds values beyond ±3.4e38, too large for the model's "
            f"32-bit floats; rescale the column (e.g. to other units) or drop it with "
            f"data.drop=[{role.column}]."
        )
    return [(role.column, values)]


def category_text(value: Any) -> str:
    """A category value as the text it is stored as: stripped, whole floats without `.0`."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def category_counts(column: pd.Series) -> dict[str, int]:
    """How often each category (as category_text; blank as "") occurs in `column`."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    tallies = np.bincount(codes + 1, minlength=len(uniques) + 1)
    counts: dict[str, int] = {}
    for text, n in zip([BLANK, *map(category_text, uniques)], tallies.tolist(), strict=True):
        if n:
            counts[text] = counts.get(text, 0) + n
    return counts


def category_indices(column: pd.Series, index: dict[str, int]) -> np.ndarray:
    """The vocabulary index of each value of `column`; 0 ("unknown") for unseen values.

    Each distinct value is looked up once, so this stays fast on millions of rows.
    """
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    lookup = np.array(
        [index.get(category_text(value), 0) for value in uniques] + [index.get(BLANK, 0)],
        dtype=np.int64,
    )
    return lookup[codes]  # code -1 (a blank) takes the last entry
