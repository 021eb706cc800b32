"""Gymnasium environments of evgrid_gym."""

from evgrid_gym.envs.evgrid_env import EVGridEnv
from evgrid_gym.envs.vector_env import EVGridVectorEnv

__all__ = ["EVGridEnv", "EVGridVectorEnv"]
