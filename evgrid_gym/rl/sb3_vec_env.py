"""Stable-Baselines3 ``VecEnv`` over the native :class:`~evgrid_gym.envs.EVGridVectorEnv`.

SB3 trains on it directly: one compiled call steps all N envs, instead of N Python envs
behind ``DummyVecEnv`` or N processes behind ``SubprocVecEnv``. SB3's conventions are kept:
auto-reset in the same step, the last observation of a finished episode in
``infos[i]["terminal_observation"]``, ``infos[i]["TimeLimit.truncated"]``, and seeds set by
``seed()`` are used at the next ``reset()`` (env i gets ``seed + i``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env import VecEnv

from evgrid_gym.envs.vector_env import EVGridVectorEnv


class SB3VecEnv(VecEnv):
    """SB3 view of an :class:`EVGridVectorEnv` that auto-resets in the same step, as SB3 does:
    ``SB3VecEnv(EVGridVectorEnv(N, scenario, autoreset_mode=AutoresetMode.SAME_STEP))``.

    ``infos`` per env carry the episode KPIs (``episode_kpis``) of episodes that ended.

    Raises:
        ValueError: the vector env auto-resets in another mode.
    """

    def __init__(self, vector_env: EVGridVectorEnv):
        mode = vector_env.metadata["autoreset_mode"]
        if mode != AutoresetMode.SAME_STEP:
            raise ValueError(
                f"vector_env: autoreset_mode is {mode}; SB3 needs AutoresetMode.SAME_STEP "
                "(EVGridVectorEnv(..., autoreset_mode=AutoresetMode.SAME_STEP))"
            )
        self.vector_env = vector_env
        super().__init__(
            vector_env.num_envs,
            vector_env.single_observation_space,
            vector_env.single_action_space,
        )
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        seeds = self._seeds if any(s is not None for s in self._seeds) else None
        observations, _ = self.vector_env.reset(seed=seeds)
        self._reset_seeds()
        self._reset_options()
        return observations

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.float32)

    def step_wait(self):
        observations, rewards, terminated, truncated, infos = self.vector_env.step(self._actions)
        done = terminated | truncated
        env_infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for i in np.flatnonzero(done):
            episode = infos["final_info"]["episode_kpis"]
            env_infos[i] = {
                "terminal_observation": infos["final_obs"][i],
                "TimeLimit.truncated": bool(truncated[i] and not terminated[i]),
                "episode_kpis": {k: float(v[i]) for k, v in episode.items() if k[0] != "_"},
            }
        return observations, rewards.astype(np.float32), done, env_infos

    def close(self) -> None:
        self.vector_env.close()

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self.vector_env, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        raise AttributeError(f"set_attr: the env copies share one vector env; {attr_name!r}")

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs):
        raise AttributeError(
            f"env_method: not supported by the native vector env ({method_name!r})"
        )

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]
