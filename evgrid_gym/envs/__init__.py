"""Gymnasium environments of evgrid_gym."""

from evgrid_gym.envs.evgrid_env import EVGridEnv

__all__ = ["EVGridEnv"]
