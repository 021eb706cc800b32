"""evgrid_gym: a Gymnasium environment and benchmark for smart EV charging on a local grid.

``import evgrid_gym`` registers ``evgrid_gym/EVGrid-v2``; ``gymnasium.make(
"evgrid_gym:evgrid_gym/EVGrid-v2")`` imports and registers it in one go.
``evgrid_gym.parallel_env(...)`` and ``evgrid_gym.env(...)`` give the stations as agents
(PettingZoo's Parallel and AEC APIs, :mod:`evgrid_gym.multiagent`).
"""

from gymnasium.envs.registration import register, registry

from evgrid_gym.config import ScenarioConfig, ScenarioError, bundled_scenarios, load_scenario
from evgrid_gym.envs import EVGridEnv, EVGridVectorEnv
from evgrid_gym.multiagent import EVGridParallelEnv, env, parallel_env
from evgrid_gym.scenario import Scenario

__version__ = "0.1.0"
__all__ = [
    "EVGridEnv",
    "EVGridParallelEnv",
    "EVGridVectorEnv",
    "Scenario",
    "ScenarioConfig",
    "ScenarioError",
    "bundled_scenarios",
    "env",
    "load_scenario",
    "parallel_env",
]

ENV_ID = "evgrid_gym/EVGrid-v2"
if ENV_ID not in registry:
    register(
        id=ENV_ID,
        entry_point="evgrid_gym.envs.evgrid_env:EVGridEnv",
        vector_entry_point="evgrid_gym.envs.vector_env:EVGridVectorEnv",
    )
