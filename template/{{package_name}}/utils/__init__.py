"""Helpers for main.py: building loggers and callbacks, rank-aware logging, config printing."""

from .config_tree import print_config_tree
from .instantiators import instantiate_callbacks, instantiate_loggers, log_hyperparameters
from .pylogger import RankedLogger

__all__ = [
    "RankedLogger",
    "instantiate_callbacks",
    "instantiate_loggers",
    "log_hyperparameters",
    "print_config_tree",
]
