"""Errors the user can fix themselves.

main.py prints only the message of these (no traceback): the message names the
file, column or value at fault and says what to change.
"""

from pathlib import Path


class UserError(Exception):
    """A bad input (data file, config value) found before any training starts."""


def checkpoint_file(ckpt_path: str) -> Path:
    """`ckpt_path` as a Path, or the UserError for a missing file."""
    path = Path(ckpt_path)
    if not path.is_file():
        raise UserError(f"ckpt_path: no file at {path.resolve()}.")
    return path


def older_checkpoint(what: str) -> UserError:
    """The error for a checkpoint written before the project's current format."""
    return UserError(
        f"the checkpoint has no {what}: it was written by an older version of this project, "
        f"whose data handling differs; train a new model (python main.py) and use its checkpoint."
    )


class LossNotFinite(Exception):
    """The loss became NaN or infinite during training; the run stops rather than go on."""
