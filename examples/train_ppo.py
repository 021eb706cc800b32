"""Train PPO on the native vector env, then compare it with uncontrolled charging.

    python examples/train_ppo.py --timesteps 200000 --num-envs 64

The same as `evgrid-gym train` + `evgrid-gym benchmark --agent`, written out.
"""

import argparse

import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecMonitor, VecNormalize

from baselines import make_policy
from evgrid_gym import EVGridEnv, EVGridVectorEnv
from evgrid_gym.kpis import reward_unit
from evgrid_gym.policy import run_episode
from evgrid_gym.rl.agent import AgentPolicy
from evgrid_gym.rl.sb3_vec_env import SB3VecEnv

parser = argparse.ArgumentParser()
parser.add_argument("--scenario", default="default")
parser.add_argument("--timesteps", type=int, default=200_000)
parser.add_argument("--num-envs", type=int, default=64)
args = parser.parse_args()

# N copies of the scenario in one compiled call, seen by SB3 as a VecEnv
vector_env = EVGridVectorEnv(args.num_envs, args.scenario, autoreset_mode=AutoresetMode.SAME_STEP)
venv = VecNormalize(VecMonitor(SB3VecEnv(vector_env)))
model = PPO("MlpPolicy", venv, n_steps=128, batch_size=256, seed=0, device="cpu")
model.learn(args.timesteps, progress_bar=False)

# score the agent and a baseline on the same held-out days with the env's own reward
env = EVGridEnv(args.scenario)
agent = AgentPolicy(model, venv)
uncontrolled = make_policy("uncontrolled", env.scenario)
seeds = range(1_000_000, 1_000_020)
unit = reward_unit(env.scenario.config.reward.kpi_weights)  # EUR, or kWh for satisfaction
for name, policy in (("ppo", agent), ("uncontrolled", uncontrolled)):
    rewards = [run_episode(env, policy, seed)["reward"] for seed in seeds]
    print(f"{name:>12}: mean reward {np.mean(rewards):8.2f} {unit} over {len(seeds)} days")
