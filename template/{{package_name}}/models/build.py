"""Build LigMod from its config, and rebuild it later from a checkpoint alone."""

from typing import Any

import hydra
from lightning import LightningModule
from omegaconf import DictConfig, OmegaConf

from ..data.datamodule import DataModule


def build_model(model_cfg: DictConfig, datamodule: DataModule) -> LightningModule:
    """Instantiate the model config with the network's width set from the data: inputs
    from its feature columns, and for a multiclass model outputs from its classes.

    The resolved config is kept in the model's hyperparameters as plain values, so
    every checkpoint carries it and still loads with `torch.load(weights_only=True)`.
    """
    config = OmegaConf.to_container(model_cfg, resolve=True)
    config["net"]["input_size"] = datamodule.num_features
    if "num_classes" in config:
        config["num_classes"] = config["net"]["output_size"] = len(datamodule.classes)
    model = hydra.utils.instantiate(config, _convert_="all")
    model.hparams["model_config"] = config
    return model


def load_model(checkpoint: dict[str, Any]) -> LightningModule:
    """The trained model of a checkpoint loaded with torch.load, in eval mode."""
    model = hydra.utils.instantiate(checkpoint["hyper_parameters"]["model_config"], _convert_="all")
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()
