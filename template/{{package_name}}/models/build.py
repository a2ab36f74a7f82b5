"""Build the task's LigMod from its config, with the network's sizes taken from the data."""

from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from ..data.datamodule import DataModule
from ..errors import UserError
from .ligmod import LigMod


def model_class(model_cfg: DictConfig) -> type[LigMod]:
    """The LigMod subclass named by the model config's `_target_`."""
    return hydra.utils.get_class(model_cfg._target_)


def check_task(model_cfg: DictConfig, data_task: str) -> None:
    """Stop before any work when data.task differs from the task the model is built for."""
    task_class = model_class(model_cfg)
    if data_task != task_class.TASK:
        raise UserError(
            f"data.task is {data_task!r}, but this project's model ({model_cfg._target_}) is "
            f"built for {task_class.TASK!r}; set data.task={task_class.TASK}, or change the "
            f"project's task with: copier update --defaults --vcs-ref=:current: --data "
            f"task_type=<binary|multiclass|regression>."
        )


def build_model(model_cfg: DictConfig, datamodule: DataModule) -> LigMod:
    """The model of `model_cfg`, its network sized by the data module's inputs and classes.

    The resolved config becomes the model's hyperparameters (plain values), so every
    checkpoint can rebuild it (LigMod.from_checkpoint).
    """
    config: dict[str, Any] = OmegaConf.to_container(model_cfg, resolve=True)
    config.pop("_target_")
    preprocessor = datamodule.preprocessor
    config["net"].update(
        numeric_features=preprocessor.numeric_width,
        category_sizes=preprocessor.category_sizes,
        output_size=datamodule.target.output_size,
    )
    config["class_weights"] = datamodule.loss_weights
    return model_class(model_cfg)(**config)
