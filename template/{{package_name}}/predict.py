"""Predictions for new rows from a checkpoint alone (see predict.py at the project root)."""

from pathlib import Path

import pandas as pd
import torch

from .data.preprocessing import Preprocessor
from .data.table import read_table
from .data.target import Target
from .errors import UserError, older_checkpoint
from .models.ligmod import LigMod


def predict(
    ckpt_path: str,
    input_path: str,
    output_path: str,
    batch_size: int,
    sep: str | None = None,
    decimal: str | None = None,
) -> int:
    """Write `input_path`'s rows with prediction columns to `output_path`; return the count.

    The rows are taken as they are: text categories, blanks, categories never seen in
    training (treated as "unknown") and extra columns (ignored). The checkpoint carries
    the model config, the weights, the preprocessing and the class labels, so nothing
    else from training is needed.
    """
    if not Path(ckpt_path).is_file():
        raise UserError(f"ckpt_path: no file at {Path(ckpt_path).resolve()}.")
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    model = LigMod.from_checkpoint(checkpoint)
    if "preprocessor" not in checkpoint["DataModule"]:
        raise older_checkpoint("preprocessing state")
    preprocessor = Preprocessor(checkpoint["DataModule"]["preprocessor"])
    target = Target(**checkpoint["DataModule"]["target"])

    rows = read_table(Path(input_path), sep, decimal)
    numbers, categories = preprocessor.transform(rows)
    with torch.inference_mode():
        parts = [
            model.predict_step(batch)
            for batch in zip(numbers.split(batch_size), categories.split(batch_size), strict=True)
        ]
    columns = {name: torch.cat([part[name] for part in parts]).tolist() for name in parts[0]}
    if "label" in columns:
        columns["label"] = target.decode(columns["label"])

    predictions = pd.DataFrame(columns).add_prefix("predicted_")
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    pd.concat([rows, predictions], axis=1).to_csv(output_path, index=False)
    return len(predictions)
