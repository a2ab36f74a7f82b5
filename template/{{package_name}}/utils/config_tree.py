"""Print the composed config as a tree, so each run shows what it trained with."""

from collections.abc import Sequence

import rich
import rich.syntax
import rich.tree
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

ORDER = ("data", "model", "callbacks", "logger", "trainer", "paths")


@rank_zero_only
def print_config_tree(cfg: DictConfig, order: Sequence[str] = ORDER) -> None:
    """Print the groups in `order` first, then the rest (turn off with print_config=false)."""
    tree = rich.tree.Tree("CONFIG", style="dim", guide_style="dim")
    fields = [name for name in order if name in cfg] + [name for name in cfg if name not in order]
    for field in fields:
        value = cfg[field]
        text = (
            OmegaConf.to_yaml(value, resolve=True) if isinstance(value, DictConfig) else str(value)
        )
        branch = tree.add(field, style="bold", guide_style="dim")
        branch.add(
            rich.syntax.Syntax(
                text, "yaml", theme="ansi_dark", background_color="default", word_wrap=True
            )
        )
    rich.print(tree)
