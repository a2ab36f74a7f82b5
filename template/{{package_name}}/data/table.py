"""Read a table file as it is: CSV (also gzip or zip), TSV or Parquet.

European CSV files often use `;` between fields and `,` as the decimal mark. The
separator and decimal mark are detected from the start of the file unless `data.sep`
and `data.decimal` say otherwise, so such files read correctly without an option.
"""

import csv
import gzip
import io
import re
import zipfile
from pathlib import Path

import pandas as pd

from ..errors import UserError

FORMATS = (".csv", ".csv.gz", ".csv.zip", ".tsv", ".parquet")
SEPARATORS = (",", ";", "\t", "|")
DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")


def table_format(path: Path) -> str:
    """The entry of FORMATS that `path` ends with, or a UserError naming them."""
    name = path.name.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    raise UserError(
        f"{path} is not a table file this project reads; use one of {', '.join(FORMATS)}."
    )


def read_table(path: Path, sep: str | None = None, decimal: str | None = None) -> pd.DataFrame:
    """The table at `path`, with at least one data row; column names stripped of spaces."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no file at {path.resolve()}; check the path.")
    kind = table_format(path)
    try:
        if kind == ".parquet":
            frame = read_parquet(path)
        else:
            if sep is None or decimal is None:
                found_sep, found_decimal = sniff(head_text(path, kind))
                sep = sep or ("\t" if kind == ".tsv" else found_sep)
                decimal = decimal or found_decimal
            frame = pd.read_csv(path, sep=sep, decimal=decimal, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty; it needs a header row and data rows.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, zipfile.BadZipFile, OSError) as err:
        reason = " ".join(str(err).split())
        raise UserError(
            f"{path} is not a readable {kind} file ({reason}); check its format."
        ) from None
    if frame.empty:
        raise UserError(f"{path} has a header but no data rows; add rows to train on.")
    frame.columns = [str(name).strip() for name in frame.columns]
    return frame


def read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except ImportError:
        raise UserError(
            f"reading {path} needs pyarrow; install it with: pip install -e '.[parquet]'."
        ) from None


def head_text(path: Path, kind: str, size: int = 65536) -> str:
    """The first `size` bytes of a (possibly compressed) text table, decoded."""
    if kind == ".csv.gz":
        with gzip.open(path, "rb") as file:
            data = file.read(size)
    elif kind == ".csv.zip":
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise UserError(f"{path} holds {len(names)} files; a .csv.zip must hold one CSV.")
            with archive.open(names[0]) as file:
                data = file.read(size)
    else:
        with path.open("rb") as file:
            data = file.read(size)
    return data.decode("utf-8", errors="replace")


def sniff(text: str) -> tuple[str, str]:
    """(separator, decimal mark) of a CSV from its first lines.

    The separator is the candidate that splits the header and the next lines into the
    same number of fields (more than one); the decimal mark is a comma when the
    separator is not and fields such as `3,14` appear.
    """
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if len(lines) > 1 and len(text) >= 65536:
        lines = lines[:-1]  # the last line may be cut off
    best, best_fields = ",", 1
    for candidate in SEPARATORS:
        counts = {
            len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=candidate)
        }
        if len(counts) == 1 and (fields := counts.pop()) > best_fields:
            best, best_fields = candidate, fields
    decimal = "."
    if best != ",":
        cells = [cell.strip() for row in csv.reader(lines[1:], delimiter=best) for cell in row]
        if any(DECIMAL_COMMA.match(cell) for cell in cells):
            decimal = ","
    return best, decimal
