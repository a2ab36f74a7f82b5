"""Predictions for new rows from a checkpoint alone (see predict.py at the project root)."""

from pathlib import Path

import pandas as pd
import torch

from .data.datamodule import DataModule, read_table
from .errors import UserError
from .models.build import load_model


def predict(ckpt_path: str, input_path: str, output_path: str, batch_size: int) -> int:
    """Write `input_path`'s rows with prediction columns to `output_path`; return the count.

    The checkpoint carries the model config, the weights and the data state (feature
    names, scaling, class labels), so nothing else from training is needed.
    """
    if not Path(ckpt_path).is_file():
        raise UserError(f"ckpt_path: no file at {Path(ckpt_path).resolve()}.")
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    model = load_model(checkpoint)
    datamodule = DataModule(**checkpoint["datamodule_hyper_parameters"])
    datamodule.load_state_dict(checkpoint["DataModule"])

    rows = read_table(Path(input_path))
    features = datamodule.features_of(rows, Path(input_path))
    with torch.inference_mode():
        parts = [model.predict_step(batch) for batch in features.split(batch_size)]
    columns = {name: torch.cat([part[name] for part in parts]).tolist() for name in parts[0]}
    if "label" in columns:
        columns["label"] = [datamodule.classes[i] for i in columns["label"]]

    predictions = pd.DataFrame(columns).add_prefix("predicted_")
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    pd.concat([rows, predictions], axis=1).to_csv(output_path, index=False)
    return len(predictions)
