"""Stable-Baselines3 on the native vector env: the adapter, a short training, the benchmark."""

import json

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

pytest.importorskip("stable_baselines3")

from baselines.benchmark import policy_factories, run_benchmark  # noqa: E402
from evgrid_gym import EVGridEnv, EVGridVectorEnv  # noqa: E402
from evgrid_gym.config import load_scenario  # noqa: E402
from evgrid_gym.rl.sb3_vec_env import SB3VecEnv  # noqa: E402
from evgrid_gym.rl.train import train  # noqa: E402


def test_sb3_adapter_follows_sb3_conventions():
    venv = SB3VecEnv(EVGridVectorEnv(2, "electra_station", autoreset_mode=AutoresetMode.SAME_STEP))
    venv.seed(3)
    obs = venv.reset()
    single = EVGridEnv("electra_station")
    np.testing.assert_array_equal(obs[1], single.reset(seed=4)[0])
    ticks = single.scenario.config.episode_ticks
    action = np.ones((2, venv.action_space.shape[0]), np.float32)
    for t in range(ticks):
        obs, rewards, dones, infos = venv.step(action)
        single_obs, reward, done, _, _ = single.step(action[1])
        assert rewards.dtype == np.float32 and rewards[1] == np.float32(reward)
        assert bool(dones[1]) == done == (t == ticks - 1)
    np.testing.assert_array_equal(infos[1]["terminal_observation"], single_obs)
    assert infos[1]["TimeLimit.truncated"] is False
    assert "episode_kpis" in infos[1] and "terminal_observation" in infos[0]
    np.testing.assert_array_equal(obs[1], single.reset()[0])  # the next episode, same stream


def test_sb3_adapter_refuses_a_next_step_vector_env():
    with pytest.raises(ValueError, match="SAME_STEP"):
        SB3VecEnv(EVGridVectorEnv(1, "electra_station"))


def test_short_training_saves_a_model_that_plugs_into_the_benchmark(tmp_path):
    config = load_scenario("electra_station")
    curve = train(config, "ppo", timesteps=256, num_envs=2, out=tmp_path, eval_every=256)
    for name in ("model.zip", "vecnormalize.pkl", "learning_curve.csv", "learning_curve.png"):
        assert (tmp_path / name).is_file(), name
    info = json.loads((tmp_path / "train_info.json").read_text())
    assert info["algo"] == "ppo" and info["timesteps"] == curve["timesteps"].iloc[-1] >= 256
    factories = policy_factories(["uncontrolled"], agent=str(tmp_path / "model.zip"))
    results = run_benchmark(config, factories, episodes=2, progress=False)
    assert set(results["policy"]) == {"uncontrolled", "agent"}
    assert np.isfinite(results["reward"]).all()


def test_an_agent_for_another_scenario_is_refused(tmp_path):
    train(load_scenario("electra_station"), "ppo", 256, 2, tmp_path, eval_every=256)
    factories = policy_factories([], agent=str(tmp_path / "model.zip"))
    with pytest.raises(ValueError, match="trained for observations"):
        run_benchmark("default", factories, episodes=1, progress=False)


def test_cli_trains_on_the_train_split_and_evaluates_on_validation(tmp_path, tiny_scenario):
    import yaml

    from evgrid_gym.cli import main

    splits = {"train": ["2019-03-01", "2019-03-31"], "validation": ["2019-04-01", "2019-04-30"],
              "test": ["2019-05-01", "2019-05-31"]}  # fmt: skip
    path = tmp_path / "split.yaml"
    path.write_text(yaml.safe_dump(tiny_scenario({"calendar.splits": splits})))
    out = tmp_path / "run"
    args = ["train", "--scenario", str(path), "--timesteps", "64", "--num-envs", "2"]
    assert main([*args, "--out", str(out)]) == 0
    info = json.loads((out / "train_info.json").read_text())
    assert (info["split"], info["eval_split"]) == ("train", "validation")
    assert main([*args, "--out", str(out), "--split", "test"]) == 0
    info = json.loads((out / "train_info.json").read_text())
    assert (info["split"], info["eval_split"]) == ("test", "validation")
