"""A logger that prints once per run, not once per process, under multi-process training."""

import logging
from typing import Any

from lightning.pytorch.utilities import rank_zero_only


class RankedLogger(logging.LoggerAdapter):
    """Logs from the rank-zero process only (or from every rank with rank_zero_only=False)."""

    def __init__(self, name: str = __name__, rank_zero_only: bool = True) -> None:
        super().__init__(logging.getLogger(name), {})
        self.rank_zero_only = rank_zero_only

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        rank = getattr(rank_zero_only, "rank", 0)
        if self.rank_zero_only and rank != 0:
            return
        msg, kwargs = self.process(msg, kwargs)
        if not self.rank_zero_only:
            msg = f"[rank {rank}] {msg}"
        self.logger.log(level, msg, *args, **kwargs)


def quiet_library_output() -> None:
    """Process-wide log and warning settings for a run; main.py calls it once, at start-up."""
    import warnings

    # The data is served from memory, where worker processes only add overhead.
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    # Lightning 2.6 calls a torch API that newer torch marks deprecated, on every epoch.
    warnings.filterwarnings("ignore", ".*isinstance\\(treespec, LeafSpec\\).*")
    # Lightning's own handler would print each of its messages a second time beside
    # Hydra's handlers, which also write them to the run's main.log.
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # Advertising for Lightning's cloud services, printed on every run.
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(
        lambda record: "💡 Tip" not in record.getMessage()
    )
