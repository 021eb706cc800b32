"""The native vector env: registration, equivalence with single envs, errors."""

import gymnasium as gym
import numpy as np
import pytest

import evgrid_gym
from evgrid_gym import EVGridEnv, EVGridVectorEnv
from evgrid_gym.core.layout import KPI_NAMES

N = 3


def _actions(rng, env, n):
    return rng.uniform(-1.2, 1.2, (n, env.scenario.n_actions)).astype(np.float32)


def test_make_vec_returns_the_native_vector_env():
    env = gym.make_vec(
        evgrid_gym.ENV_ID, num_envs=2, vectorization_mode="vector_entry_point",
        scenario="electra_station",
    )  # fmt: skip
    assert isinstance(env, EVGridVectorEnv)
    assert env.num_envs == 2
    assert env.observation_space.shape == (2, env.single_observation_space.shape[0])
    assert env.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP


@pytest.mark.parametrize(
    "scenario", ["default", "electra_station", "caltech_acn", "scenario2_high_demand"]
)
def test_equivalent_to_single_envs_across_autoresets(scenario):
    vector = EVGridVectorEnv(N, scenario)
    singles = [EVGridEnv(scenario) for _ in range(N)]
    seed = 11
    obs, _ = vector.reset(seed=seed)
    for i, env in enumerate(singles):
        single_obs, _ = env.reset(seed=seed + i)
        np.testing.assert_array_equal(obs[i], single_obs)
    rng = np.random.default_rng(0)
    ticks = singles[0].scenario.config.episode_ticks
    autoresets = 0
    for _ in range(2 * ticks + 5):  # crosses two autoresets
        actions = _actions(rng, vector, N)
        obs, rewards, terminated, truncated, infos = vector.step(actions)
        assert not truncated.any()
        for i, env in enumerate(singles):
            single_obs, reward, done, _, info = env.step(actions[i])
            assert reward == rewards[i]
            assert done == terminated[i]
            if done:  # same step: the finished episode moves to final_*, then the reset
                autoresets += 1
                np.testing.assert_array_equal(infos["final_obs"][i], single_obs)
                final = infos["final_info"]
                assert final["_episode_kpis"][i] and final["_unmet_energy_kwh"][i]
                for name, value in info["episode_kpis"].items():
                    np.testing.assert_equal(final["episode_kpis"][name][i], value, name)
                for name in KPI_NAMES:
                    assert final[name][i] == info[name], name
                single_obs, info = env.reset()
            for name in KPI_NAMES:
                assert infos[name][i] == info[name], name
            assert infos["date"][i] == info["date"]
            np.testing.assert_array_equal(obs[i], single_obs)
    assert autoresets == 2 * N


def test_returned_observations_are_never_overwritten():
    vector = EVGridVectorEnv(2, "electra_station")
    obs, _ = vector.reset(seed=3)
    returned, copies = [obs], [obs.copy()]
    rng = np.random.default_rng(0)
    for _ in range(vector.scenario.config.episode_ticks + 2):  # across an autoreset
        obs, _, terminated, _, infos = vector.step(_actions(rng, vector, 2))
        returned.append(obs)
        copies.append(obs.copy())
        if terminated.any():
            returned.extend(infos["final_obs"][terminated])
            copies.extend(o.copy() for o in infos["final_obs"][terminated])
    for kept, copy in zip(returned, copies, strict=True):
        np.testing.assert_array_equal(kept, copy)


def test_a_list_of_seeds_gives_each_env_its_own():
    vector = EVGridVectorEnv(2, "default")
    obs, infos = vector.reset(seed=[5, 9])
    for i, s in enumerate([5, 9]):
        single_obs, info = EVGridEnv("default").reset(seed=s)
        np.testing.assert_array_equal(obs[i], single_obs)
        assert infos["date"][i] == info["date"]
    with pytest.raises(ValueError, match="num_envs = 2"):
        vector.reset(seed=[1, 2, 3])


def test_bad_actions_raise_and_step_nothing():
    vector = EVGridVectorEnv(2, "electra_station")
    vector.reset(seed=0)
    good = np.zeros(vector.action_space.shape, dtype=np.float32)
    ticks_before = vector.step(good)[4]["tick"]
    bad = good.copy()
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match=r"\[1, 3\]"):
        vector.step(bad)
    with pytest.raises(ValueError, match="shape"):
        vector.step(good[:1])
    assert np.array_equal(vector.step(good)[4]["tick"], ticks_before + 1)


def test_step_before_reset_and_bad_construction_raise():
    with pytest.raises(RuntimeError, match="reset"):
        EVGridVectorEnv(1, "electra_station").step(np.zeros((1, 9), np.float32))
    with pytest.raises(ValueError, match="num_envs"):
        EVGridVectorEnv(0, "electra_station")
