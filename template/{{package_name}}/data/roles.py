"""What each column of a table is used as, decided from the training split.

Numbers are numeric inputs; text and true/false columns are categorical; dates become
numeric parts (year, month, day of week, day of year). Columns that cannot help are
left out with a warning: a single value everywhere, only blanks, or text with about one
distinct value per row (IDs, names, free text). `data.categorical`, `data.numeric`,
`data.drop` and `data.features` override the guess.
"""

import re
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
from pandas.tseries.api import guess_datetime_format

from ..errors import UserError

NUMERIC, CATEGORICAL, DATE, TARGET, LEFT_OUT = (
    "numeric",
    "categorical",
    "date",
    "target",
    "left out",
)
# Text with at least this share of distinct values among its non-blank cells is an ID
# or free text, not a category.
ID_SHARE = 0.9
ID_MIN_ROWS = 20
DATE_SHAPE = re.compile(
    r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})"  # 2012/01/31, 31.01.2012
    r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?$"  # an optional time of day
)
ID_NAME = re.compile(r"(^|[^a-z])(id|index|key)$|^unnamed: ?\d+$", re.IGNORECASE)


@dataclass(frozen=True)
class Role:
    """One column's role, why it was chosen, and for dates the format they are read with."""

    column: str
    role: str
    reason: str
    date_format: str | None = None
    # Left out by the guess, not by an option: the option that keeps it (the run warns).
    keep_with: str | None = None

    @property
    def used(self) -> bool:
        return self.role in (NUMERIC, CATEGORICAL, DATE)

    def as_dict(self) -> dict:
        return asdict(self)


def infer_roles(
    train: pd.DataFrame,
    target: str,
    features: list[str] | None = None,
    categorical: list[str] = (),
    numeric: list[str] = (),
    drop: list[str] = (),
) -> list[Role]:
    """The role of every column of `train` (the training split, target included)."""
    check_names(train, target, features, categorical, numeric, drop)
    roles = []
    for name in train.columns:
        column = train[name]
        if name == target:
            roles.append(Role(name, TARGET, "data.target"))
        elif name in drop:
            roles.append(Role(name, LEFT_OUT, "listed in data.drop"))
        elif features is not None and name not in features:
            roles.append(Role(name, LEFT_OUT, "not listed in data.features"))
        elif name in categorical:
            roles.append(Role(name, CATEGORICAL, "listed in data.categorical"))
        elif name in numeric:
            numbers_or_error(column, name, "take it out of data.numeric (text is categorical)")
            roles.append(Role(name, NUMERIC, "listed in data.numeric"))
        else:
            roles.append(guess_role(column, name))
    if not any(role.used for role in roles):
        reasons = "; ".join(f"{r.column}: {r.reason}" for r in roles if r.role != TARGET)
        raise UserError(
            f"no usable feature column is left ({reasons or 'the table has only the target'}); "
            f"list columns to use in data.categorical=[...] or data.numeric=[...]."
        )
    return roles


def check_names(
    frame: pd.DataFrame,
    target: str,
    features: list[str] | None,
    categorical: list[str],
    numeric: list[str],
    drop: list[str],
) -> None:
    """Every column named in an option exists, and no column is given two roles."""
    options = {
        "data.features": features or [],
        "data.categorical": categorical,
        "data.numeric": numeric,
        "data.drop": drop,
    }
    for option, names in options.items():
        unknown = [name for name in names if name not in frame.columns]
        if unknown:
            raise UserError(
                f"{option} names column(s) {', '.join(unknown)} that the table does not have; "
                f"its columns are {', '.join(frame.columns)}."
            )
        if target in names and option != "data.drop":
            raise UserError(f"{option} lists the target {target!r}; remove it from there.")
    if features is not None:
        outside = [name for name in [*categorical, *numeric] if name not in features]
        if outside:
            raise UserError(
                f"column(s) {', '.join(outside)} are in data.categorical or data.numeric but "
                f"not in data.features, which keeps only its own columns; add them there."
            )
    both = sorted(set(categorical) & set(numeric))
    if both:
        raise UserError(
            f"column(s) {', '.join(both)} are in both data.categorical and data.numeric; "
            f"keep each in one."
        )
    if target in drop:
        raise UserError(f"data.drop lists the target {target!r}; remove it from there.")


def guess_role(column: pd.Series, name: str) -> Role:
    values = column.dropna()
    if values.empty:
        return Role(name, LEFT_OUT, "only blanks", keep_with="data.numeric")
    if pd.api.types.is_bool_dtype(column):
        return Role(name, CATEGORICAL, "true/false values")
    if pd.api.types.is_numeric_dtype(column):
        # Cheapest tests first: min and max instead of counting distinct values (which
        # hashes every value), and the distinct count and whole-number test only for a
        # column named like an ID. Same roles, a tenth of the time on a million rows.
        if values.min() == values.max():
            reason = f"one value only ({values.iloc[0]})"
            return Role(name, LEFT_OUT, reason, keep_with="data.numeric")
        if ID_NAME.search(name) and values.nunique() == len(values):
            whole = pd.api.types.is_integer_dtype(values) or bool((values % 1 == 0).all())
            if whole:
                reason = "an ID: a distinct whole number per row"
                return Role(name, LEFT_OUT, reason, keep_with="data.numeric")
        return Role(name, NUMERIC, "numbers")
    text = values.astype(str).str.strip()
    text = text[text != ""]
    if text.empty:
        return Role(name, LEFT_OUT, "only blanks", keep_with="data.categorical")
    date_format = date_format_of(text)
    if date_format:
        return Role(name, DATE, "dates: year, month, day of week, day of year", date_format)
    distinct = text.nunique()
    if distinct == 1:
        reason = f"one value only ({text.iloc[0]!r})"
        return Role(name, LEFT_OUT, reason, keep_with="data.categorical")
    if len(text) >= ID_MIN_ROWS and distinct >= ID_SHARE * len(text):
        reason = f"an ID or free text: {distinct} distinct values in {len(text)} rows"
        return Role(name, LEFT_OUT, reason, keep_with="data.categorical")
    return Role(name, CATEGORICAL, f"text, {distinct} distinct values")


def date_format_of(text: pd.Series) -> str | None:
    """The strftime format of a text column whose values all look like dates, or None."""
    sample = text.iloc[:1000]
    if not sample.str.match(DATE_SHAPE).all():
        return None
    # Month first where both readings work (01/02/2012 is January 2nd); day first where
    # only it does (25/12/2012).
    guesses = (
        guess_datetime_format(value, dayfirst=dayfirst)
        for value in sample.iloc[:20]
        for dayfirst in (False, True)
    )
    for fmt in dict.fromkeys(g for g in guesses if g):
        if pd.to_datetime(sample, format=fmt, errors="coerce").notna().all():
            return fmt
    return None


def numbers_or_error(
    column: pd.Series, name: str, fix: str = "fix or blank those cells"
) -> pd.Series:
    """`column` as float64 (blanks as NaN), or a UserError naming a value that is not a number."""
    if pd.api.types.is_bool_dtype(column):
        return column.astype("float64")
    if pd.api.types.is_numeric_dtype(column):
        return column.astype("float64")
    text = column.astype("string").str.strip().replace("", pd.NA)
    numbers = pd.to_numeric(text, errors="coerce")
    bad = text[numbers.isna() & text.notna()]
    if len(bad):
        raise UserError(
            f"column {name!r} holds text such as {bad.iloc[0]!r} where numbers are expected; {fix}."
        )
    return numbers.astype("float64")


def print_columns(rows: list[tuple[str, str, str]]) -> None:
    """The column table (column, role, why) printed at the start of every run."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Columns", header_style="bold")
    for heading in ("column", "role", "why"):
        table.add_column(heading)
    for column, role, why in rows:
        style = "dim" if role == LEFT_OUT else None
        table.add_row(escape(column), role, escape(why), style=style)
    Console(soft_wrap=True).print(table)


def save_columns(rows: list[tuple[str, str, str]], path: Path) -> None:
    """The column table as CSV (column, role, why), kept in the run folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["column", "role", "why"]).to_csv(path, index=False)
