"""A policy trained with RLlib (``evgrid-gym train --framework rllib``) behind the Policy
interface, acting on the single env.

A multi-agent policy (``--agents station``) acts for every station: the single env's
observation is split per station (:class:`~evgrid_gym.multiagent.StationView`, as the
multi-agent env does), the shared policy acts on the batch of stations, and their actions are
concatenated into the single env's action. A central policy acts on the observation as it is.
Both see it scaled as in training (:func:`scale_observation`) and act
deterministically (the mean of their Gaussian), clipped to [-1, 1].
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from evgrid_gym.multiagent import StationView
from evgrid_gym.scenario import Scenario

AGENTS = ("station", "central")
MODULE_IDS = {"station": "shared", "central": "default_policy"}
"""The RLModule a run of each kind trains (``default_policy``: RLlib's ``DEFAULT_MODULE_ID``,
a single-agent run's); also its folder in the checkpoint (:data:`MODULES`)."""
CHECKPOINT_FILE = "rllib_checkpoint.json"
"""The file that marks a folder as an RLlib checkpoint."""
MODULES = "learner_group/learner/rl_module"
"""Where an ``Algorithm`` checkpoint keeps its RLModules, one folder per module id."""


def scale_observation(observation: np.ndarray, space: gym.spaces.Box) -> np.ndarray:
    """``observation`` (shape (..., D)) mapped linearly from the bounds of ``space`` to
    [-1, 1], float32: what RLlib policies see, in training and here."""
    return (2.0 * (observation - space.low) / (space.high - space.low) - 1.0).astype(np.float32)


def is_rllib_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding an RLlib checkpoint."""
    return (Path(path) / CHECKPOINT_FILE).is_file()


class RLlibAgentPolicy:
    """Acts with an RLlib RLModule (deterministic) on the single env.

    Args:
        module: a trained RLModule (its inference action distribution is used).
        scenario: the env's scenario.
        agents: ``"station"`` (a policy of one station, applied to each) or ``"central"``.
    """

    perfect_foresight = False

    def __init__(self, module, scenario: Scenario, agents: str = "station"):
        self.module, self.agents = module, agents
        self._dist = module.get_inference_action_dist_cls()
        if agents == "station":
            self._view = StationView(scenario)
            self._space, action_space = self._view.observation_space, self._view.action_space
        else:
            self._view = None
            self._space = gym.spaces.Box(scenario.observation_low, scenario.observation_high)
            action_space = gym.spaces.Box(-1.0, 1.0, (scenario.n_actions,))
        self.spaces_shapes = (self._space.shape, action_space.shape)
        """The observation and action shapes the module must have."""

    @classmethod
    def load(cls, scenario: Scenario, path: str | Path) -> RLlibAgentPolicy:
        """The policy of the RLlib checkpoint folder ``path`` (``checkpoint/`` of a run).

        Raises:
            FileNotFoundError: ``path`` is not an RLlib checkpoint.
            ValueError: it holds neither a station nor a central policy of
                ``evgrid-gym train``, or its spaces do not fit the scenario.
        """
        from ray.rllib.core.rl_module.rl_module import RLModule

        path = Path(path)
        if not is_rllib_checkpoint(path):
            raise FileNotFoundError(
                f"agent: {path} is not an RLlib checkpoint (no {CHECKPOINT_FILE})"
            )
        found = [a for a, module_id in MODULE_IDS.items() if (path / MODULES / module_id).is_dir()]
        if len(found) != 1:
            raise ValueError(
                f"agent: {path} holds modules {sorted(p.name for p in (path / MODULES).glob('*/'))}"
                f"; expected one of {sorted(MODULE_IDS.values())} (`evgrid-gym train --framework "
                "rllib`)"
            )
        module = RLModule.from_checkpoint(str((path / MODULES / MODULE_IDS[found[0]]).resolve()))
        policy = cls(module, scenario, found[0])
        expected = policy.spaces_shapes
        trained = (module.observation_space.shape, module.action_space.shape)
        if trained != expected:
            raise ValueError(
                f"agent: {path} was trained for observations {trained[0]} and actions "
                f"{trained[1]}; a {found[0]} policy of this scenario has {expected[0]} and "
                f"{expected[1]}"
            )
        return policy

    def reset(self, seed: int | None = None, plan=None) -> None:
        pass

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        import torch

        batch = observation[None] if self._view is None else self._view.observe(observation)
        with torch.no_grad():
            inputs = torch.from_numpy(scale_observation(batch, self._space))
            logits = self.module.forward_inference({"obs": inputs})["action_dist_inputs"]
            actions = self._dist.from_logits(logits).to_deterministic().sample().numpy()
        actions = np.clip(actions, -1.0, 1.0).astype(np.float32)
        return actions[0] if self._view is None else self._view.join(actions)
