"""The stations of a scenario as agents: a PettingZoo env over the same core as the single env.

``parallel_env(scenario=..., reward="station")`` returns the Parallel API env
(:class:`EVGridParallelEnv`), ``env(...)`` its AEC form (PettingZoo's ``parallel_to_aec``).
"""

from __future__ import annotations

from pettingzoo.utils.conversions import parallel_to_aec

from evgrid_gym.multiagent.env import EVGridParallelEnv
from evgrid_gym.multiagent.station_view import StationObservation, StationView


def parallel_env(**kwargs) -> EVGridParallelEnv:
    """The stations as agents, Parallel API (arguments of :class:`EVGridParallelEnv`)."""
    return EVGridParallelEnv(**kwargs)


def env(**kwargs):
    """The stations as agents, AEC API: ``parallel_to_aec(parallel_env(**kwargs))``."""
    return parallel_to_aec(parallel_env(**kwargs))


__all__ = ["EVGridParallelEnv", "StationObservation", "StationView", "env", "parallel_env"]
