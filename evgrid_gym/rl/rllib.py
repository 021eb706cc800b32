"""Training with RLlib (Ray's RL library) on its current API stack (RLModule, Learner, EnvRunner).

``agents="station"``: the stations of the scenario as agents
(:class:`~evgrid_gym.multiagent.EVGridParallelEnv`, each rewarded with its own profit or,
with ``reward="team"``, the community's), all mapped to one
shared PPO policy (parameter sharing; their spaces are the same by construction).
``agents="central"``: PPO on the single-agent env. Env runners sample in Ray actors
(``num_env_runners``; 0: in the driver), the learner updates in the driver; the same code runs
on a local Ray or, with ``address``, on an existing cluster (every node needs the package).

A run writes into its output folder: ``checkpoint/`` (RLlib's ``Algorithm`` checkpoint, whose
policy ``evgrid-gym benchmark --agent`` ranks), ``train_info.json``, ``scenario.yaml``,
``learning_curve.csv`` and ``learning_curve.png`` (the deterministic policy's mean reward on
the held-out seeds of :mod:`evgrid_gym.rl.evaluation`, as the SB3 job's, and RLlib's mean
episode return of the training episodes).

Observations reach the policy scaled to [-1, 1] by their bounds
(:func:`~evgrid_gym.rl.rllib_agent.scale_observation`, the same in training and in
:class:`~evgrid_gym.rl.rllib_agent.RLlibAgentPolicy`), so no normalisation statistics have to
travel with the checkpoint.
"""

from __future__ import annotations

import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd
import torch
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
from ray.tune.registry import register_env
from tqdm.auto import tqdm

from evgrid_gym.cluster import ray_session
from evgrid_gym.config import ScenarioConfig
from evgrid_gym.envs import EVGridEnv
from evgrid_gym.multiagent import EVGridParallelEnv
from evgrid_gym.rl.evaluation import PPO_INITIAL_CHARGE, HeldOut
from evgrid_gym.rl.rllib_agent import AGENTS, MODULE_IDS, RLlibAgentPolicy, scale_observation

ENV_NAMES = {"station": "evgrid_gym_stations", "central": "evgrid_gym_central"}
EPISODES_PER_ITERATION = 10
"""PPO's train batch per iteration: this many episodes' worth of env steps."""
ENVS_PER_RUNNER = 8
"""Envs each env runner steps together (one batched forward pass of the policy for all of
them): 2.5 times the env steps/s of one env per runner (``benchmarks/bench_multiagent.py``)."""


def _scaled_space(space: gym.spaces.Box) -> gym.spaces.Box:
    return gym.spaces.Box(-1.0, 1.0, space.shape, np.float32)


class _ScaledStations(ParallelPettingZooEnv):
    """RLlib's view of the stations as agents, observations scaled (:func:`scale_observation`)."""

    def __init__(self, env_config: dict):
        env = EVGridParallelEnv(env_config["scenario"], reward=env_config["reward"])
        self._raw_space = env.station_view.observation_space
        super().__init__(env)
        self.observation_space = gym.spaces.Dict(
            {agent: _scaled_space(self._raw_space) for agent in env.possible_agents}
        )

    def _scaled(self, observations: dict) -> dict:
        return {a: scale_observation(o, self._raw_space) for a, o in observations.items()}

    def reset(self, *, seed=None, options=None):
        observations, infos = super().reset(seed=seed, options=options)
        return self._scaled(observations), infos

    def step(self, action_dict):
        observations, *rest = super().step(action_dict)
        return self._scaled(observations), *rest


def _scaled_central(env_config: dict) -> gym.Env:
    env = EVGridEnv(env_config["scenario"])
    space = env.observation_space
    return gym.wrappers.TransformObservation(
        env, lambda observation: scale_observation(observation, space), _scaled_space(space)
    )


def ppo_config(
    config: ScenarioConfig, agents: str, num_env_runners: int, seed: int = 0,
    reward: str = "station",
) -> PPOConfig:  # fmt: skip
    """RLlib's PPO configuration of a run (see the module docstring); ``reward`` is the
    stations' (``"station"`` or ``"team"``, :class:`~evgrid_gym.multiagent.EVGridParallelEnv`).

    Each env runner steps :data:`ENVS_PER_RUNNER` envs; each iteration samples
    :data:`EPISODES_PER_ITERATION` episodes' worth of env steps and runs 5 epochs of
    minibatches of a fifth of them with Adam at 3e-4 (SB3's PPO rate; RLlib's default is
    5e-5); the rest are RLlib's defaults (an MLP of 256 x 256 for policy and value, ...).

    Raises:
        ValueError: ``agents`` is not one of :data:`AGENTS`.
    """
    if agents not in AGENTS:
        raise ValueError(f"agents: got {agents!r}; must be one of {list(AGENTS)}")
    register_env(ENV_NAMES["station"], _ScaledStations)
    register_env(ENV_NAMES["central"], _scaled_central)
    batch = EPISODES_PER_ITERATION * config.episode_ticks
    ppo = (
        PPOConfig()
        .environment(
            ENV_NAMES[agents],
            env_config={"scenario": config.model_dump(mode="json"), "reward": reward},
        )
        .env_runners(num_env_runners=num_env_runners, num_envs_per_env_runner=ENVS_PER_RUNNER)
        .training(
            lr=3e-4, train_batch_size_per_learner=batch, minibatch_size=batch // 5, num_epochs=5
        )
        .debugging(seed=seed, log_level="ERROR")
    )
    if agents == "station":
        module_id = MODULE_IDS["station"]
        ppo = ppo.multi_agent(
            policies={module_id}, policy_mapping_fn=lambda agent_id, *args, **kwargs: module_id
        ).rl_module(rl_module_spec=MultiRLModuleSpec(rl_module_specs={module_id: RLModuleSpec()}))
    return ppo


def _start_at_full_power(algo, agents: str, scenario) -> None:
    """Sets the mean connector action of PPO's Gaussian to :data:`PPO_INITIAL_CHARGE` (its BESS
    entry stays at 0), as the SB3 job does: the action head's weights start near 0, so its
    bias is the initial mean; the env runners get the new weights."""
    module_id = MODULE_IDS[agents]
    n_connectors = (
        int(scenario.station_connectors.max()) if agents == "station" else scenario.n_connectors
    )

    def start(learner):
        head = learner.module[module_id].pi.net.mlp[-1]  # RLlib's default PPO module
        with torch.no_grad():
            head.bias[:n_connectors] = PPO_INITIAL_CHARGE

    algo.learner_group.foreach_learner(start)
    algo.env_runner_group.sync_weights(from_worker_or_learner_group=algo.learner_group)


def train(
    config: ScenarioConfig,
    agents: str,
    timesteps: int,
    num_env_runners: int,
    out: Path,
    seed: int = 0,
    address: str | None = None,
    eval_every: int | None = None,
    reward: str = "station",
) -> pd.DataFrame:
    """Trains PPO with RLlib for at least ``timesteps`` env steps and saves the run in ``out``.

    Args:
        config: the scenario (its ``calendar.split``'s days for training).
        agents: ``"station"`` (one shared policy over the stations) or ``"central"``.
        timesteps: env steps to sample at least (whole iterations).
        num_env_runners: Ray actors that sample (0: the driver samples).
        out: the output folder (created).
        seed: RLlib's seed.
        address: a Ray cluster to run on; None starts a local Ray with
            ``num_env_runners + 1`` CPUs (the learner in the driver).
        eval_every: env steps between held-out evaluations (default: a tenth of the run).
        reward: the stations' reward with ``agents="station"``: each its own profit
            (``"station"``) or the community's (``"team"``).

    Returns:
        The learning curve: ``timesteps``, ``eval_reward_mean``, ``eval_reward_std``,
        ``train_return_mean``.

    Raises:
        ValueError: an unknown ``agents``, or ``timesteps`` < 1 or ``num_env_runners`` < 0.
    """
    if timesteps < 1 or num_env_runners < 0:
        raise ValueError(
            f"timesteps ({timesteps}) must be >= 1 and num_env_runners ({num_env_runners}) >= 0"
        )
    ppo = ppo_config(config, agents, num_env_runners, seed, reward)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # a small MLP: leave the cores to the env runners
    held_out = HeldOut(config)
    with ray_session(address, num_cpus=num_env_runners + 1):
        algo = ppo.build_algo()
        _start_at_full_power(algo, agents, held_out.env.scenario)
        start = time.perf_counter()
        steps = _train_loop(algo, agents, timesteps, eval_every or max(timesteps // 10, 1),
                            held_out)  # fmt: skip
        wall_s = time.perf_counter() - start
        algo.save_to_path(str((out / "checkpoint").resolve()))
        algo.stop()
    info = {"framework": "rllib", "algo": "ppo", "agents": agents, "reward": reward,
            "scenario": config.name,
            "timesteps": steps, "num_env_runners": num_env_runners, "seed": seed,
            "address": address, "train_wall_s": wall_s}  # fmt: skip
    return held_out.write(out, config, info, f"RLlib PPO ({agents}) on {config.name}")


def _train_loop(algo, agents: str, timesteps: int, eval_every: int, held_out: HeldOut) -> int:
    """RLlib iterations until ``timesteps`` env steps are sampled, the deterministic policy
    evaluated on the held-out seeds every ``eval_every`` steps and at the end; returns the
    steps sampled."""
    scenario = held_out.env.scenario
    steps, next_eval = 0, eval_every
    with tqdm(total=timesteps, unit="step", desc=f"training ({agents})") as bar:
        while steps < timesteps:
            result = algo.train()["env_runners"]
            bar.update(int(result["num_env_steps_sampled_lifetime"]) - steps)
            steps = int(result["num_env_steps_sampled_lifetime"])
            if steps >= next_eval or steps >= timesteps:
                next_eval += eval_every
                policy = RLlibAgentPolicy(algo.get_module(MODULE_IDS[agents]), scenario, agents)
                mean = held_out(policy, steps, train_return_mean=result["episode_return_mean"])
                bar.set_postfix(eval_reward=f"{mean:.1f}")
    return steps
