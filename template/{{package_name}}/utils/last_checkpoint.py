"""last.ckpt at the end of an epoch, at most once every few seconds, and always at the end.

Writing a whole checkpoint costs a few milliseconds (Lightning gathers the loop,
optimizer and callback states, then torch.save): on the bundled data that is about a
fifth of an epoch. With `every_seconds: 1` a run whose epochs take longer than a second
still writes last.ckpt after every epoch; a run of shorter epochs writes it once the
previous write is a second old, and after the last epoch (max_epochs, early stopping or
max_steps). The first epoch is always written, so a killed run always leaves a last.ckpt;
what it may lose is the training done since the previous write, at most about
`every_seconds` plus the epoch under way. `every_seconds: 0` writes after every epoch.
"""

import math
import time
from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint


class LastCheckpoint(ModelCheckpoint):
    """ModelCheckpoint (monitor=None) that skips epoch-end writes less than `every_seconds`
    after the previous one, except after the final epoch."""

    def __init__(self, every_seconds: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.every_seconds = every_seconds
        self._written_at: float | None = None

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self._written_at is not None and not self._final_epoch(trainer):
            if time.monotonic() - self._written_at < self.every_seconds:
                return
        super().on_train_epoch_end(trainer, pl_module)
        self._written_at = time.monotonic()

    @staticmethod
    def _final_epoch(trainer: Any) -> bool:
        max_epochs = trainer.max_epochs if trainer.max_epochs not in (None, -1) else math.inf
        max_steps = trainer.max_steps if trainer.max_steps not in (None, -1) else math.inf
        return (
            trainer.should_stop
            or trainer.current_epoch + 1 >= max_epochs
            or trainer.global_step >= max_steps
        )
