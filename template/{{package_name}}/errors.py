"""Errors the user can fix themselves.

main.py prints only the message of these (no traceback): the message names the
file, column or value at fault and says what to change.
"""


class UserError(Exception):
    """A bad input (data file, config value) found before any training starts."""


class LossNotFinite(Exception):
    """The loss became NaN or infinite during training; the run stops rather than go on."""
