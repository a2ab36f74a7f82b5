"""Raw rows -> prediction columns, from a checkpoint loaded once.

The one path from rows to predictions: predict.py, serve.py and export.py's check all
call `Predictor.predict`, so a CSV file, an HTTP request and the ONNX model's check see
the same preprocessing (data/preprocessing.py) and the same prediction head.
"""

from typing import Any

import pandas as pd
import torch

from .data.datamodule import data_state
from .errors import UserError, checkpoint_file
from .models.ligmod import LigMod


class Predictor:
    """A checkpoint's model, preprocessing and target, ready for rows as users bring them.

    The rows are taken as they are: text categories, blanks, categories never seen in
    training (treated as "unknown") and extra columns (ignored). The checkpoint carries
    the model config, the weights, the preprocessing and the class labels, so nothing
    else from training is needed.
    """

    def __init__(self, checkpoint: dict[str, Any], path: str = "") -> None:
        self.checkpoint = checkpoint
        self.path = path
        self.model = LigMod.from_checkpoint(checkpoint)
        self.preprocessor, self.target = data_state(checkpoint["DataModule"])

    @classmethod
    def load(cls, ckpt_path: str) -> "Predictor":
        """The checkpoint at `ckpt_path`, or a UserError saying why it cannot be used."""
        path = checkpoint_file(ckpt_path)
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
            return cls(checkpoint, str(path))
        except UserError:
            raise
        except Exception as err:  # any file torch or the model cannot read: the same answer
            reason = " ".join(str(err).split()).split(". ")[0][:200]
            raise UserError(
                f"ckpt_path: {path} is not a checkpoint of this project ({type(err).__name__}: "
                f"{reason}); point ckpt_path at a .ckpt file from logs/runs/<run>/checkpoints/."
            ) from None

    @property
    def task(self) -> str:
        return self.target.task

    @property
    def columns(self) -> list[str]:
        """The feature columns every row needs (a value may be blank)."""
        return self.preprocessor.columns

    def predict(self, rows: pd.DataFrame, batch_size: int = 4096) -> pd.DataFrame:
        """The prediction columns of `rows` (label and probability, or value), row for row.

        Columns are named as `LigMod.predict_step` names them; predict.py writes them with
        a `predicted_` prefix. Bad values raise a UserError that names the column.
        """
        numbers, categories = self.preprocessor.transform(rows)
        with torch.inference_mode():
            parts = [
                self.model.predict_step(batch)
                for batch in zip(
                    numbers.split(batch_size), categories.split(batch_size), strict=True
                )
            ] or [self.model.predict_step((numbers, categories))]
        columns = {name: torch.cat([part[name] for part in parts]).tolist() for name in parts[0]}
        if "label" in columns:
            columns["label"] = self.target.decode(columns["label"])
        return pd.DataFrame(columns, index=rows.index)
