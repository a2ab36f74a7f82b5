"""Tables as users bring them: text categories with stray spaces, blanks, IDs, dates."""

from pathlib import Path

import numpy as np
import pandas as pd

TARGETS = {"binary": "churned", "multiclass": "plan", "regression": "spend"}


def messy_table(task: str, rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """A learnable table for `task` whose target column is TARGETS[task].

    Columns: an ID, a number with 10 % blanks, a text category with stray spaces and
    blanks, a true/false column, dates, a constant, integer store codes, and the target
    (with a few blanks, which the run drops).
    """
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows).astype(float)
    city = rng.choice([" Paris", "Lyon ", "Nice", "Lille"], rows)
    member = rng.random(rows) < 0.4
    signal = (age - 50) / 15 + np.isin(city, [" Paris", "Nice"]) * 1.5 + member
    signal += rng.normal(0, 0.3, rows)
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(rows)],
            "age": age,
            "city": city.astype(object),
            "member": member,
            "joined": (
                pd.Timestamp("2012-01-01") + pd.to_timedelta(rng.integers(0, 900, rows), "D")
            ).strftime("%Y/%m/%d"),
            "country": "FR",
            "store": rng.integers(1, 6, rows),
        }
    )
    if task == "binary":
        frame[TARGETS[task]] = np.where(signal > 0.5, "yes", "no")
    elif task == "multiclass":
        frame[TARGETS[task]] = np.select([signal < 0, signal < 1.2], ["basic", "plus"], "premium")
    else:
        frame[TARGETS[task]] = np.round(100 + 40 * signal, 2)
    frame.loc[rng.choice(rows, rows // 10, replace=False), "age"] = np.nan
    frame.loc[rng.choice(rows, rows // 12, replace=False), "city"] = None
    frame[TARGETS[task]] = frame[TARGETS[task]].astype(object)
    frame.loc[rng.choice(rows, 3, replace=False), TARGETS[task]] = None
    return frame


def write_messy_table(task: str, path: Path, **kwargs) -> Path:
    messy_table(task, **kwargs).to_csv(path, index=False)
    return path
