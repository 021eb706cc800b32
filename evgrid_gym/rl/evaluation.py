"""What every training job (SB3's and RLlib's) shares: the held-out evaluation and the files
of a run (``train_info.json``, ``scenario.yaml``, ``learning_curve.csv`` and ``.png``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from evgrid_gym.config import ScenarioConfig, with_split
from evgrid_gym.envs import EVGridEnv
from evgrid_gym.kpis import reward_unit
from evgrid_gym.policy import Policy, run_episode

EVAL_SEEDS = tuple(range(1_000_000, 1_000_010))  # held out: training seeds start at 0
EVAL_SPLIT = "validation"  # evaluation days, where the scenario has this split
PPO_INITIAL_CHARGE = 1.0  # initial mean connector action: start from "charge at full power"


class HeldOut:
    """The deterministic evaluation of a policy on :data:`EVAL_SEEDS` through a single
    :class:`EVGridEnv` (its reward is the env's own), on the :data:`EVAL_SPLIT` days where the
    scenario has that split, else on the training days; it keeps the learning curve.

    Args:
        config: the training scenario.
    """

    def __init__(self, config: ScenarioConfig):
        has_split = EVAL_SPLIT in config.calendar.splits
        self.split = EVAL_SPLIT if has_split else config.calendar.split
        self.env = EVGridEnv(with_split(config, EVAL_SPLIT) if has_split else config)
        self.curve: list[dict[str, float]] = []

    def __call__(self, policy: Policy, timesteps: int, **more: float) -> float:
        """Evaluates ``policy`` after ``timesteps`` training steps, adds a point to the curve
        (with the ``more`` columns) and returns its mean reward (in the reward's unit,
        :func:`~evgrid_gym.kpis.reward_unit`)."""
        rewards = [run_episode(self.env, policy, seed)["reward"] for seed in EVAL_SEEDS]
        self.curve.append(
            {"timesteps": timesteps, "eval_reward_mean": float(np.mean(rewards)),
             "eval_reward_std": float(np.std(rewards))} | more
        )  # fmt: skip
        return self.curve[-1]["eval_reward_mean"]

    def write(self, out: Path, config: ScenarioConfig, info: dict[str, Any], title: str):
        """Writes ``train_info.json`` (``info`` with the evaluation's split and seeds),
        ``scenario.yaml``, ``learning_curve.csv`` and ``learning_curve.png`` into ``out``;
        returns the curve."""
        info = info | {"split": config.calendar.split, "eval_split": self.split,
                       "eval_seeds": list(EVAL_SEEDS)}  # fmt: skip
        (out / "train_info.json").write_text(json.dumps(info, indent=2))
        (out / "scenario.yaml").write_text(
            yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
        )
        table = pd.DataFrame(self.curve)
        table.to_csv(out / "learning_curve.csv", index=False)
        _plot_curve(
            table, out / "learning_curve.png", title, reward_unit(config.reward.kpi_weights)
        )
        return table


def _plot_curve(curve: pd.DataFrame, path: Path, title: str, unit: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    mean, std = curve["eval_reward_mean"], curve["eval_reward_std"]
    ax.plot(curve["timesteps"], mean, marker="o")
    ax.fill_between(curve["timesteps"], mean - std, mean + std, alpha=0.2)
    ax.set_xlabel("training steps")
    ax.set_ylabel(f"mean reward on {len(EVAL_SEEDS)} held-out seeds ({unit})")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=120)
    plt.close(fig)
