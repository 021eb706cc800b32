"""A trained Stable-Baselines3 agent behind the Policy interface.

A training run (``evgrid-gym train``) leaves ``model.zip``, ``vecnormalize.pkl`` (the
observation normalisation, if used) and ``train_info.json`` (``{"algo": "ppo", ...}``) in one
folder; this policy loads them and acts deterministically.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np

ALGORITHMS = ("ppo", "sac", "td3")


def load_model(path: Path, algo: str | None = None):
    """Loads an SB3 model; the algorithm comes from ``train_info.json`` beside it, or ``algo``.

    Raises:
        FileNotFoundError: no model file at ``path``.
        ValueError: the algorithm is unknown or cannot be told from the files, or the file
            is not a model of it.
    """
    import stable_baselines3

    if not path.is_file():
        raise FileNotFoundError(f"agent: no model file {path}")
    info = path.with_name("train_info.json")
    if algo is None and info.is_file():
        algo = json.loads(info.read_text()).get("algo")
    if algo not in ALGORITHMS:
        raise ValueError(
            f"agent: algorithm {algo!r} of {path}; must be one of {ALGORITHMS} "
            "(written to train_info.json by `evgrid-gym train`)"
        )
    try:
        return getattr(stable_baselines3, algo.upper()).load(path, device="cpu")
    except (ValueError, KeyError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
        raise ValueError(f"agent: cannot load {path} as a {algo.upper()} model ({err})") from None


class AgentPolicy:
    """Acts with a trained SB3 model (deterministic), normalising observations as in training.

    Args:
        model: an SB3 model.
        normalizer: the ``VecNormalize`` whose observation statistics the model was trained
            with, or None.
    """

    perfect_foresight = False

    def __init__(self, model, normalizer=None):
        self.model = model
        self._normalizer = normalizer

    @classmethod
    def load(cls, scenario, path: str | Path) -> AgentPolicy:
        """The agent saved at ``path`` (``model.zip``, with ``vecnormalize.pkl`` beside it).

        Raises:
            FileNotFoundError, ValueError: see :func:`load_model`; or the model's spaces do not
                fit the scenario.
        """
        path = Path(path)
        model = load_model(path)
        n_obs = scenario.observation_low.shape[0]
        if model.observation_space.shape != (n_obs,) or model.action_space.shape != (
            scenario.n_actions,
        ):
            raise ValueError(
                f"agent: {path} was trained for observations {model.observation_space.shape}"
                f" and actions {model.action_space.shape}; this scenario has ({n_obs},) and"
                f" ({scenario.n_actions},)"
            )
        normalizer = None
        stats = path.with_name("vecnormalize.pkl")
        if stats.is_file():
            with stats.open("rb") as f:
                normalizer = pickle.load(f)
            normalizer.training = False
        return cls(model, normalizer)

    def reset(self, seed: int | None = None, plan=None) -> None:
        pass

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        if self._normalizer is not None:
            observation = self._normalizer.normalize_obs(observation)
        action, _ = self.model.predict(observation, deterministic=True)
        return np.clip(action, -1.0, 1.0).astype(np.float32)
