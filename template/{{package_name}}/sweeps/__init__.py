"""Hydra callbacks of this project. Hydra loads them before a run starts, so they
import neither torch nor Lightning."""
