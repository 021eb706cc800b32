"""Training an SB3 agent on the native vector env, with periodic held-out evaluation.

A run writes into its output folder: ``model.zip`` (the final model), ``vecnormalize.pkl``
(observation and reward normalisation statistics), ``train_info.json`` (algorithm, scenario,
steps, wall time), ``scenario.yaml`` (the config used), ``learning_curve.csv`` and
``learning_curve.png`` (mean reward on held-out seeds against training steps).
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import torch
from gymnasium.vector import AutoresetMode
from stable_baselines3 import PPO, SAC, TD3
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecMonitor, VecNormalize
from tqdm.auto import tqdm

from evgrid_gym.config import ScenarioConfig
from evgrid_gym.envs import EVGridVectorEnv
from evgrid_gym.rl.agent import AgentPolicy
from evgrid_gym.rl.evaluation import PPO_INITIAL_CHARGE, HeldOut
from evgrid_gym.rl.sb3_vec_env import SB3VecEnv

ALGORITHMS = {"ppo": PPO, "sac": SAC, "td3": TD3}
PPO_STEPS_PER_ENV = 128  # a rollout covers more than one 96-tick episode per env


class _Progress(BaseCallback):
    """A tqdm bar over environment steps, and an evaluation every ``eval_every`` steps."""

    def __init__(self, total: int, eval_every: int, evaluate):
        super().__init__()
        self.bar = tqdm(total=total, unit="step", desc="training")
        self.eval_every, self.evaluate, self._next_eval = eval_every, evaluate, eval_every

    def _on_step(self) -> bool:
        self.bar.update(self.training_env.num_envs)
        if self.num_timesteps >= self._next_eval:
            self._next_eval += self.eval_every
            self.bar.set_postfix(eval_reward=f"{self.evaluate(self.num_timesteps):.1f}")
        return True

    def _on_training_end(self) -> None:
        self.bar.close()


def train(
    config: ScenarioConfig,
    algo: str,
    timesteps: int,
    num_envs: int,
    out: Path,
    seed: int = 0,
    eval_every: int | None = None,
    algo_kwargs: dict | None = None,
) -> pd.DataFrame:
    """Trains ``algo`` on ``num_envs`` copies of the scenario and saves the run into ``out``.

    PPO collects rollouts of 128 steps per env (5 epochs of minibatches of 1,024) and rounds
    ``timesteps`` up to whole rollouts; SAC and TD3 use SB3's defaults. PPO's Gaussian policy
    starts with its mean connector action at :data:`PPO_INITIAL_CHARGE` (full rated power; the
    BESS entries at 0, idle) instead of 0: from a zero mean, 1M steps were not enough to push
    the mean to full power, and the agent stayed below the ``uncontrolled`` baseline; from
    full power it only has to learn where to deviate. Observations and rewards are
    normalised with SB3's ``VecNormalize`` (saved with the model); evaluation runs the
    deterministic policy on held-out seeds through a single env
    (:class:`~evgrid_gym.rl.evaluation.HeldOut`). Training draws its days from
    ``calendar.split`` (the CLI sets it to ``train`` where the scenario has one).
    ``algo_kwargs`` override the algorithm's settings.

    Returns:
        The learning curve: ``timesteps``, ``eval_reward_mean``, ``eval_reward_std``.

    Raises:
        ValueError: unknown algorithm or non-positive steps / env count.
    """
    if algo not in ALGORITHMS:
        raise ValueError(f"algo: got {algo!r}; must be one of {sorted(ALGORITHMS)}")
    if timesteps < 1 or num_envs < 1:
        raise ValueError(f"timesteps ({timesteps}) and num_envs ({num_envs}) must be >= 1")
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # a small MLP: one thread, leaving the cores to the env kernel
    vector_env = EVGridVectorEnv(num_envs, config, autoreset_mode=AutoresetMode.SAME_STEP)
    venv = VecNormalize(VecMonitor(SB3VecEnv(vector_env)))
    venv.seed(seed)
    kwargs = {}
    if algo == "ppo":
        rollout = PPO_STEPS_PER_ENV * num_envs
        kwargs = {"n_steps": PPO_STEPS_PER_ENV, "batch_size": min(1024, rollout), "n_epochs": 5}
        timesteps = -(-timesteps // rollout) * rollout  # PPO runs whole rollouts
    kwargs |= algo_kwargs or {}
    model = ALGORITHMS[algo]("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, **kwargs)
    held_out = HeldOut(config)
    if algo == "ppo":  # the action net's weights start near 0, so its bias is the initial mean
        with torch.no_grad():
            model.policy.action_net.bias[: vector_env.scenario.n_connectors] = PPO_INITIAL_CHARGE

    def evaluate(steps: int) -> float:
        return held_out(AgentPolicy(model, venv), steps)

    start = time.perf_counter()
    eval_every = eval_every or max(timesteps // 10, num_envs)
    model.learn(timesteps, callback=_Progress(timesteps, eval_every, evaluate))
    wall_s = time.perf_counter() - start
    if not held_out.curve or held_out.curve[-1]["timesteps"] != model.num_timesteps:
        evaluate(model.num_timesteps)
    model.save(out / "model.zip")
    venv.save(str(out / "vecnormalize.pkl"))
    info = {"algo": algo, "scenario": config.name, "timesteps": model.num_timesteps,
            "num_envs": num_envs, "seed": seed, "train_wall_s": wall_s}  # fmt: skip
    return held_out.write(out, config, info, f"{algo.upper()} on {config.name}")
