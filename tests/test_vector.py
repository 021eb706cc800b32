"""The native vector env: registration, equivalence with single envs, errors."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers.vector import (
    FlattenObservation,
    NormalizeObservation,
    NormalizeReward,
    RecordEpisodeStatistics,
)

import evgrid_gym
from evgrid_gym import EVGridEnv, EVGridVectorEnv, load_scenario
from evgrid_gym.core.layout import KPI_NAMES

N = 3


def _actions(rng, env, n):
    return rng.uniform(-1.2, 1.2, (n, env.scenario.n_actions)).astype(np.float32)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP, None])
def test_make_vec_returns_the_native_vector_env(mode):
    kwargs = {} if mode is None else {"autoreset_mode": mode}
    env = gym.make_vec(
        evgrid_gym.ENV_ID, num_envs=2, vectorization_mode="vector_entry_point",
        scenario="electra_station", **kwargs,
    )  # fmt: skip
    assert isinstance(env, EVGridVectorEnv)
    assert env.num_envs == 2
    assert env.observation_space.shape == (2, env.single_observation_space.shape[0])
    assert env.metadata["autoreset_mode"] == (mode or AutoresetMode.NEXT_STEP)  # Gymnasium's
    assert EVGridVectorEnv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP  # untouched


@pytest.mark.parametrize("mode", ["SameStep", "Disabled", "soon"])
def test_autoreset_mode_by_value_or_rejected(mode):
    if mode == "SameStep":
        env = EVGridVectorEnv(1, "electra_station", autoreset_mode=mode)
        assert env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
        return
    with pytest.raises(ValueError, match=f"autoreset_mode: got '{mode}'.*NEXT_STEP or SAME_STEP"):
        EVGridVectorEnv(1, "electra_station", autoreset_mode=mode)


def _check_step(mode, i, env, actions, obs, rewards, terminated, infos):
    """Steps single env ``i`` as the vector env's copy ``i`` was stepped; returns whether the
    copy's episode ended on this step."""
    if mode == AutoresetMode.NEXT_STEP and env.ended:  # the copy restarted, the action unused
        single_obs, info = env.reset()
        reward, done, env.ended = 0.0, False, False
    else:
        single_obs, reward, done, _, info = env.step(actions[i])
    assert reward == rewards[i]
    assert done == terminated[i]
    if done and mode == AutoresetMode.SAME_STEP:  # the finished episode moves to final_*
        np.testing.assert_array_equal(infos["final_obs"][i], single_obs)
        final = infos["final_info"]
        assert final["_episode_kpis"][i] and final["_unmet_energy_kwh"][i]
        for name, value in info["episode_kpis"].items():
            np.testing.assert_equal(final["episode_kpis"][name][i], value, name)
        for name in KPI_NAMES:
            assert final[name][i] == info[name], name
        single_obs, info = env.reset()
    elif done:  # NEXT_STEP: the last observation now, the episode KPIs in infos
        assert infos["_episode_kpis"][i]
        for name, value in info["episode_kpis"].items():
            np.testing.assert_equal(infos["episode_kpis"][name][i], value, name)
        env.ended = True
    elif "episode_kpis" in infos:
        assert not infos["_episode_kpis"][i]
    for name in KPI_NAMES:
        assert infos[name][i] == info[name], name
    assert infos["date"][i] == info["date"]
    assert infos["tick"][i] == info["tick"]
    np.testing.assert_array_equal(obs[i], single_obs)
    return done


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize(
    "scenario", ["default", "electra_station", "caltech_acn", "scenario2_high_demand"]
)
def test_equivalent_to_single_envs_across_autoresets(scenario, mode):
    vector = EVGridVectorEnv(N, scenario, autoreset_mode=mode)
    singles = [EVGridEnv(scenario) for _ in range(N)]
    seed = 11
    obs, _ = vector.reset(seed=seed)
    for i, env in enumerate(singles):
        single_obs, _ = env.reset(seed=seed + i)
        env.ended = False
        np.testing.assert_array_equal(obs[i], single_obs)
    rng = np.random.default_rng(0)
    ticks = singles[0].scenario.config.episode_ticks
    autoresets = 0
    for _ in range(2 * ticks + 5):  # crosses two autoresets
        actions = _actions(rng, vector, N)
        obs, rewards, terminated, truncated, infos = vector.step(actions)
        assert not truncated.any()
        for i, env in enumerate(singles):
            autoresets += _check_step(mode, i, env, actions, obs, rewards, terminated, infos)
    assert autoresets == 2 * N


def test_gymnasium_vector_wrappers_run_on_the_native_env():
    env = gym.make_vec(evgrid_gym.ENV_ID, num_envs=2, scenario="electra_station")
    env = RecordEpisodeStatistics(NormalizeReward(NormalizeObservation(env)))
    obs, _ = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape
    ticks = load_scenario("electra_station").episode_ticks
    rng = np.random.default_rng(0)
    for t in range(ticks + 1):
        actions = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
        obs, _, terminated, _, infos = env.step(actions)
        assert np.isfinite(obs).all()
        assert terminated.all() == (t == ticks - 1)
        if terminated.all():  # RecordEpisodeStatistics saw both episodes end
            assert infos["_episode"].all() and (infos["episode"]["l"] == ticks).all()
    assert not terminated.any()  # both restarted on the next step (NEXT_STEP)
    flat = FlattenObservation(gym.make_vec(evgrid_gym.ENV_ID, num_envs=2, scenario="default"))
    assert flat.reset(seed=1)[0].shape == flat.observation_space.shape


def test_reset_date_option_starts_every_env_on_that_day():
    vector = EVGridVectorEnv(2, "default")
    obs, infos = vector.reset(seed=4, options={"date": "2019-07-15"})
    assert list(infos["date"]) == ["2019-07-15", "2019-07-15"]
    for i in range(2):
        single_obs, _ = EVGridEnv("default").reset(seed=4 + i, options={"date": "2019-07-15"})
        np.testing.assert_array_equal(obs[i], single_obs)
    ticks_before = vector.step(_actions(np.random.default_rng(0), vector, 2))[4]["tick"]
    for options, match in (({"date": "15/07/2019"}, "ISO date"), ({"day": 1}, "unknown keys")):
        with pytest.raises(ValueError, match=match):
            vector.reset(seed=1, options=options)
    # a rejected reset changes nothing
    assert np.array_equal(vector.step(_actions(np.random.default_rng(0), vector, 2))[4]["tick"],
                          ticks_before + 1)  # fmt: skip


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_returned_observations_are_never_overwritten(mode):
    vector = EVGridVectorEnv(2, "electra_station", autoreset_mode=mode)
    obs, _ = vector.reset(seed=3)
    returned, copies = [obs], [obs.copy()]
    rng = np.random.default_rng(0)
    for _ in range(vector.scenario.config.episode_ticks + 2):  # across an autoreset
        obs, _, terminated, _, infos = vector.step(_actions(rng, vector, 2))
        returned.append(obs)
        copies.append(obs.copy())
        if terminated.any() and mode == AutoresetMode.SAME_STEP:
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
