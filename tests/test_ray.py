"""Ray: the benchmark's Ray backend against the serial one, RLlib training and its checkpoints.

These tests need the ``ray`` extra (``pip install -e ".[ray]" -c constraints.txt``); without it
they skip. They share one local Ray of 2 CPUs (no dashboard), shut down at the end.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

ray = pytest.importorskip(
    "ray", reason="the ray extra is not installed: pip install -e '.[ray]' -c constraints.txt"
)

import torch  # noqa: E402

import evgrid_gym  # noqa: E402
from baselines.benchmark import policy_factories, run_benchmark  # noqa: E402
from evgrid_gym import EVGridEnv  # noqa: E402
from evgrid_gym.config import load_scenario  # noqa: E402
from evgrid_gym.rl.rllib import train  # noqa: E402
from evgrid_gym.rl.rllib_agent import RLlibAgentPolicy, scale_observation  # noqa: E402

pytestmark = [
    pytest.mark.ray,
    # RLlib registers its multi-agent env wrapper with Gymnasium anew for each algorithm
    pytest.mark.filterwarnings("ignore:.*Overriding environment rllib-multi-agent-env"),
]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR)
    yield
    ray.shutdown()


def test_ray_backend_gives_the_serial_rows_and_logs(tmp_path):
    policies = policy_factories(["uncontrolled", "random", "bess_boost", "optimal"])
    serial = run_benchmark("electra_station", policies, 3, first_seed=5, progress=False,
                           log_dir=tmp_path / "serial_logs")  # fmt: skip
    fanned = run_benchmark("electra_station", policies, 3, first_seed=5, progress=False,
                           out=tmp_path, log_dir=tmp_path / "ray_logs", backend="ray")  # fmt: skip
    assert list(serial["policy"]) == ["uncontrolled"] * 3 + ["random"] * 3 + [
        "bess_boost"] * 3 + ["optimal"] * 3  # fmt: skip
    columns = [c for c in serial.columns if c != "wall_time_s"]
    pd.testing.assert_frame_equal(fanned[columns], serial[columns])
    written = pd.read_csv(tmp_path / "results.csv")
    assert len(written) == 12 and list(written["seed"]) == list(serial["seed"])
    assert (serial.loc[serial["policy"] == "optimal", "solver_status"] == "optimal").all()
    # every episode's log, written by the worker that ran it, is the serial run's
    for policy, seed in zip(serial["policy"], serial["seed"], strict=True):
        for table in ("sessions.csv", "events.csv", "ticks.csv"):
            want = (tmp_path / "serial_logs" / policy / f"seed_{seed}" / table).read_bytes()
            got = (tmp_path / "ray_logs" / policy / f"seed_{seed}" / table).read_bytes()
            assert got == want, (policy, seed, table)


@pytest.fixture(scope="module")
def station_checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("rllib_station")
    curve = train(load_scenario("default"), "station", timesteps=1, num_env_runners=0, out=out)
    assert list(curve.columns) == ["timesteps", "eval_reward_mean", "eval_reward_std",
                                   "train_return_mean"]  # fmt: skip
    for name in ("train_info.json", "scenario.yaml", "learning_curve.csv", "learning_curve.png"):
        assert (out / name).is_file(), name
    return out / "checkpoint"


def test_a_station_checkpoint_acts_on_the_single_env_as_on_the_stations(station_checkpoint):
    """The single env's action is the stations' actions concatenated, each from its own
    observation: the same trajectory as the shared module acting for every agent of the
    multi-agent env (one batch of the agents, as the policy's, for equal rounding)."""
    policy = RLlibAgentPolicy.load(EVGridEnv("default").scenario, station_checkpoint)
    module, dist = policy.module, policy.module.get_inference_action_dist_cls()
    multi = evgrid_gym.parallel_env(scenario="default", reward="team")
    single = EVGridEnv("default")
    observations, _ = multi.reset(seed=8)
    single_obs, info = single.reset(seed=8)
    space = multi.station_view.observation_space
    while multi.agents:
        batch = np.stack([observations[agent] for agent in multi.agents])
        inputs = torch.from_numpy(scale_observation(batch, space))
        with torch.no_grad():
            logits = module.forward_inference({"obs": inputs})["action_dist_inputs"]
        batch = dist.from_logits(logits).to_deterministic().sample().numpy()
        batch = np.clip(batch, -1.0, 1.0).astype(np.float32)
        actions = dict(zip(multi.agents, batch, strict=True))
        observations, rewards, *_ = multi.step(actions)
        single_obs, reward, *_, info = single.step(policy.act(single_obs, info))
        np.testing.assert_array_equal(multi.state(), single_obs)
        assert rewards["north"] == reward


def test_checkpoints_are_ranked_by_the_benchmark_and_checked(station_checkpoint):
    results = run_benchmark(
        "default", policy_factories(["uncontrolled"], agent=str(station_checkpoint)), 2,
        progress=False,
    )  # fmt: skip
    assert list(results["policy"]) == ["uncontrolled"] * 2 + ["agent"] * 2
    assert np.isfinite(results["reward"]).all()
    # (a station policy fits any scenario whose stations pad to the same size, e.g.
    # electra_station's; caltech_acn's 55 connectors do not)
    with pytest.raises(ValueError, match="trained for observations"):
        RLlibAgentPolicy.load(EVGridEnv("caltech_acn").scenario, station_checkpoint)
    with pytest.raises(FileNotFoundError, match="not an RLlib checkpoint"):
        RLlibAgentPolicy.load(EVGridEnv("default").scenario, station_checkpoint.parent)


@pytest.mark.slow
@pytest.mark.parametrize("agents", ["station", "central"])
def test_ppo_improves_on_electra_station(tmp_path, agents):
    config = load_scenario("electra_station")
    batch = 10 * config.episode_ticks  # env steps of one iteration
    curve = train(config, agents, timesteps=6 * batch, num_env_runners=1, out=tmp_path,
                  eval_every=batch)  # fmt: skip
    assert len(curve) == 6
    assert curve["train_return_mean"].iloc[-1] > curve["train_return_mean"].iloc[0]
    assert curve["eval_reward_mean"].iloc[-1] > curve["eval_reward_mean"].iloc[0]
    results = run_benchmark(config, policy_factories([], agent=str(tmp_path / "checkpoint")), 1,
                            progress=False)  # fmt: skip
    assert np.isfinite(results["reward"]).all()


def test_cli_trains_with_rllib_and_ranks_the_checkpoint_on_ray(tmp_path, capsys):
    from evgrid_gym.cli import main

    out = tmp_path / "run"
    assert main(["train", "--framework", "rllib", "--agents", "station", "--reward", "team",
                 "--scenario", "electra_station", "--timesteps", "1", "--num-env-runners", "0",
                 "--out", str(out)]) == 0  # fmt: skip
    assert "trained RLlib ppo (station)" in capsys.readouterr().out
    info = json.loads((out / "train_info.json").read_text())
    assert (info["agents"], info["reward"], info["framework"]) == ("station", "team", "rllib")
    assert main(["benchmark", "--scenario", "electra_station", "--episodes", "2", "--policies",
                 "uncontrolled", "--agent", str(out / "checkpoint"), "--backend", "ray",
                 "--out", str(tmp_path / "bench")]) == 0  # fmt: skip
    results = pd.read_csv(tmp_path / "bench" / "results.csv")
    assert list(results["policy"]) == ["uncontrolled", "uncontrolled", "agent", "agent"]
