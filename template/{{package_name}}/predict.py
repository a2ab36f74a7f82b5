"""Predictions for new rows from a checkpoint alone (see predict.py at the project root)."""

from pathlib import Path

import pandas as pd

from .data.table import read_table
from .inference import Predictor


def predict(
    ckpt_path: str,
    input_path: str,
    output_path: str,
    batch_size: int,
    sep: str | None = None,
    decimal: str | None = None,
) -> int:
    """Write `input_path`'s rows with prediction columns to `output_path`; return the count.

    The rows are taken as they are (see `Predictor`): text categories, blanks, unseen
    categories and extra columns. The output is the input with `predicted_<column>`
    columns added.
    """
    predictor = Predictor.load(ckpt_path)
    rows = read_table(Path(input_path), sep, decimal)
    predictions = predictor.predict(rows, batch_size).add_prefix("predicted_")
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    pd.concat([rows, predictions], axis=1).to_csv(output_path, index=False)
    return len(predictions)
