"""The stations as agents (PettingZoo): API tests, the single env underneath, station rewards."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
import reference as ref
from numpy.testing import assert_allclose
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test

import evgrid_gym
from evgrid_gym import EVGridEnv
from evgrid_gym.config import load_scenario
from evgrid_gym.core import layout as L


@functools.cache
def _uneven_scenario() -> dict:
    """scenario1_normal with uneven stations (8 and 6 connectors, one BESS), soft limits that
    bind (overloads to penalise), feed-in, frequent faults (charger and link outages), V2G at
    station a and battery degradation (the wear of V2G and of the BESS)."""
    data = load_scenario("scenario1_normal").model_dump(mode="json")
    data["name"] = "uneven"
    data["grid"] |= {"limits": "soft", "feeder_limit_kw": 90.0}
    data["supplier"]["export"] = True
    a, b = data["stations"]
    a["grid_capacity_kw"] = 40.0
    b["bess"] = None
    b["chargers"][0]["count"] = 3
    a["chargers"][0]["v2g"] = True
    data["faults"] |= {"charger_probability": 0.03, "station_link_probability": 0.02}
    data["evs"]["arrivals_per_station_per_day"] = 30.0
    data["degradation"] = True
    return data


def _uneven():
    return load_scenario(_uneven_scenario())


def _random_actions(env, rng) -> dict[str, np.ndarray]:
    return {a: env.action_space(a).sample() * 1.2 for a in env.agents} | {
        # a random subset of agents asks for full power, to reach the limits
        a: np.ones(env.action_space(a).shape, np.float32)
        for a in env.agents
        if rng.random() < 0.3
    }


def _joined_by_hand(scenario, actions: dict[str, np.ndarray]) -> np.ndarray:
    """The single env's action from the agents' (the documented layout, written out here):
    station s's k-th connector takes its agent's entry k, its BESS the entry after the
    largest station's connectors."""
    ids = [st.id for st in scenario.config.stations]
    biggest = int(scenario.station_connectors.max())
    joined = np.zeros(scenario.n_actions, np.float32)
    for s, agent in enumerate(ids):
        mine = np.flatnonzero(scenario.connector_station == s)
        joined[mine] = actions[agent][: mine.size]
        if scenario.config.action.bess_control:
            joined[scenario.n_connectors + s] = actions[agent][biggest]
    return joined


# --- PettingZoo's own tests -------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:We recommend agents to be named")
@pytest.mark.filterwarnings("ignore:options. ignoring unknown keys")
def test_passes_pettingzoo_parallel_api_and_seed_tests():
    parallel_api_test(evgrid_gym.parallel_env(scenario=_uneven()), num_cycles=200)
    parallel_seed_test(functools.partial(evgrid_gym.parallel_env, scenario=_uneven(),
                                         delay_ticks=3))  # fmt: skip


@pytest.mark.filterwarnings("ignore:We recommend agents to be named")
@pytest.mark.filterwarnings("ignore:options. ignoring unknown keys")
def test_aec_form_passes_pettingzoo_api_test():
    api_test(evgrid_gym.env(scenario=_uneven(), reward="team"), num_cycles=200)


def test_same_seed_same_trajectory_and_unknown_options_warn(rollout_agents):
    first = rollout_agents(evgrid_gym.parallel_env(scenario=_uneven()), seed=5)
    second = rollout_agents(evgrid_gym.parallel_env(scenario=_uneven()), seed=5)
    assert len(first) == len(second) == 97
    for a, b in zip(first, second, strict=True):
        for x, y in zip(a, b, strict=True):
            assert x.keys() == y.keys()
            for key in x:
                np.testing.assert_equal(x[key], y[key])
    env = evgrid_gym.parallel_env(scenario=_uneven())
    with pytest.warns(UserWarning, match=r"ignoring unknown keys \['colour'\]"):
        env.reset(seed=0, options={"colour": 1})


@pytest.fixture
def rollout_agents():
    def run(env, seed):
        rng = np.random.default_rng(seed)
        observations, infos = env.reset(seed=seed)
        for a in env.possible_agents:
            env.action_space(a).seed(seed)
        steps = [(observations, infos)]
        while env.agents:
            steps.append(env.step(_random_actions(env, rng)))
        return steps

    return run


# --- the single env underneath ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["default", "uneven", "caltech_acn", "default_network"])
def test_concatenated_actions_give_the_single_env_trajectory(name):
    scenario = _uneven() if name == "uneven" else name
    multi = evgrid_gym.parallel_env(scenario=scenario, reward="team")
    single = EVGridEnv(scenario)
    rng = np.random.default_rng(7)
    observations, _ = multi.reset(seed=11)
    single_obs, single_info = single.reset(seed=11)
    sc = single.scenario
    for a in multi.possible_agents:
        multi.action_space(a).seed(3)
    while multi.agents:
        np.testing.assert_array_equal(multi.state(), single_obs)
        _check_station_observations(multi, observations, sc.unpack(single_obs))
        actions = _random_actions(multi, rng)
        observations, rewards, terminated, truncated, infos = multi.step(actions)
        single_obs, reward, done, cut, single_info = single.step(_joined_by_hand(sc, actions))
        assert set(rewards) == set(terminated) == set(infos) == set(multi.possible_agents)
        assert all(r == reward for r in rewards.values())
        assert all(t == done for t in terminated.values()) and not any(truncated.values())
        for s, agent in enumerate(multi.possible_agents):
            assert infos[agent]["tick"] == single_info["tick"]
            # the per-station arrays of the single env's info (not its KPI station_payment_eur)
            station_keys = [key for key in single_info if key.startswith("station_")
                            and np.ndim(single_info[key]) == 1]  # fmt: skip
            own = {key.removeprefix("station_") for key in station_keys}
            assert set(infos[agent]) - {"episode_kpis"} == own | {"tick", "date"}
            assert len(own) == 15
            for key in station_keys:
                assert infos[agent][key.removeprefix("station_")] == single_info[key][s], key
    assert multi.agents == [] and done
    assert infos[agent]["episode_kpis"] == single_info["episode_kpis"]


def _check_station_observations(multi, observations, single) -> None:
    """Each agent's blocks, checked against the single env's named views by hand."""
    sc = multi.scenario
    biggest = int(sc.station_connectors.max())
    k = sc.n_chargers
    for s, agent in enumerate(multi.possible_agents):
        mine = np.flatnonzero(sc.connector_station == s)
        pad = biggest - mine.size
        view = multi.station_view.unpack(observations[agent])
        assert observations[agent].dtype == np.float32
        assert multi.observation_space(agent).contains(observations[agent])
        for name in ("occupied", "soc", "energy_needed_kwh", "ticks_to_departure",
                     "max_power_kw"):  # fmt: skip
            expected = np.concatenate([getattr(single, name)[mine], np.zeros(pad)])
            np.testing.assert_array_equal(getattr(view, name), expected, err_msg=name)
        np.testing.assert_array_equal(
            view.rated_kw,
            np.concatenate([sc.connector_rated_kw[mine], np.zeros(pad)]).astype(np.float32),
        )
        mask = [1.0] * mine.size + [0.0] * pad
        if sc.config.action.bess_control:
            mask.append(float(sc.config.stations[s].bess is not None))
        np.testing.assert_array_equal(view.action_mask, mask)
        assert view.bess_soc == single.bess_soc[s] and view.headroom_kw == single.headroom_kw[s]
        np.testing.assert_array_equal(view.reservations, single.reservations[s])
        np.testing.assert_array_equal(view.price_eur_per_kwh, single.price_eur_per_kwh)
        np.testing.assert_array_equal(view.renewable_kw, single.renewable_kw)
        assert (view.time_sin, view.time_cos) == (single.time_sin, single.time_cos)
        assert view.household_kw == np.float32(single.household_kw)
        if single.outage.size:
            chargers_down = single.outage[:k][sc.connector_charger[mine]]
            np.testing.assert_array_equal(view.charger_down, np.append(chargers_down,
                                                                       np.zeros(pad)))  # fmt: skip
            assert view.link_down == single.outage[k + s]
            assert view.wind_share_down == single.outage[-1]
        for name in ("bus_voltage_pu", "grid_headroom_kva"):  # empty without a network
            own = getattr(single, name)[s : s + 1]
            np.testing.assert_array_equal(getattr(view, name), own, err_msg=name)


def test_readme_station_table_is_the_spec():
    """The README's table of a station's observation is the one ``station_view.FIELDS``
    generates from the single env's blocks."""
    from pathlib import Path

    from evgrid_gym.multiagent.station_view import markdown_table

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert markdown_table() in readme


def test_padded_entries_change_nothing():
    # station_b has 6 connectors and no BESS: its entries 6, 7 and 8 act on nothing
    runs = []
    for padding in (0.0, 1.0):
        env = evgrid_gym.parallel_env(scenario=_uneven(), reward="team")
        env.reset(seed=2)
        rewards = []
        while env.agents:
            actions = {a: np.full(9, 0.5, np.float32) for a in env.agents}
            actions["station_b"][6:] = padding
            rewards.append(env.step(actions)[1]["station_a"])
        runs.append((rewards, env.state()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_delayed_shared_block_is_the_observation_delay_ticks_ago():
    delay = 3
    multi = evgrid_gym.parallel_env(scenario="default", delay_ticks=delay)
    observations, _ = multi.reset(seed=4)
    history = [multi.scenario.unpack(multi.state())]
    for t in range(1, 12):
        observations, *_ = multi.step({a: np.zeros(9, np.float32) for a in multi.agents})
        history.append(multi.scenario.unpack(multi.state()))
        late, now = history[max(t - delay, 0)], history[t]
        for s, agent in enumerate(multi.possible_agents):
            view = multi.station_view.unpack(observations[agent])
            np.testing.assert_array_equal(view.price_eur_per_kwh, late.price_eur_per_kwh)
            np.testing.assert_array_equal(view.renewable_kw, late.renewable_kw)
            assert (view.time_sin, view.household_kw) == (
                np.float32(late.time_sin), np.float32(late.household_kw))  # fmt: skip
            assert view.bess_soc == now.bess_soc[s]  # the own block is current


# --- rewards ----------------------------------------------------------------------------------


BOOKS = {  # an agent's info entry: the reference's per-station result
    "net_kw": "net_kw",
    "own_kwh": "own_kwh",
    "external_kwh": "external_kwh",
    "market_payment_eur": "payment_eur",
    "bess_kw": "bess_kw",
    "revenue_eur": "revenue_eur",
    "energy_cost_eur": "energy_cost_eur",
    "storage_value_eur": "storage_value_eur",
    "unmet_energy_kwh": "unmet_kwh",
    "unmet_penalty_eur": "unmet_penalty_eur",
    "overload_kwh": "overload_kwh",
    "overload_penalty_eur": "overload_penalty_eur",
    "degradation_cost_eur": "degradation_cost_eur",
    "profit_eur": "profit_eur",
}


def test_station_rewards_and_the_identity_with_the_single_agent_reward():
    """Per tick: each station's reward is its profit, its revenue minus its market payment
    and energy cost plus its storage value minus its batteries' wear and its penalties, each
    term as the reference simulator books it per station (tests/reference.py); and the
    stations' profits plus the turbine owner's income, minus the households' payments and
    external energy and the feeder's overload penalty, are the team reward (the single
    env's)."""
    station_env = evgrid_gym.parallel_env(scenario=_uneven(), reward="station")
    team_env = evgrid_gym.parallel_env(scenario=_uneven(), reward="team")
    rng = np.random.default_rng(9)
    station_env.reset(seed=1)
    team_env.reset(seed=1)
    single = station_env.env
    sc, episode = single.scenario, single.episode
    sim = ref.RefSim(sc.cfg, sc.connector_charger, sc.charger_f, sc.charger_station,
                     sc.station_f, episode.exo, episode.ev, sc.reward_weights,
                     episode.outage)  # fmt: skip
    sim.reset()
    exercised = {"overload": 0.0, "unmet": 0.0, "export": 0.0, "storage": 0.0, "wear": 0.0}
    agents = station_env.possible_agents
    for a in agents:
        station_env.action_space(a).seed(0)
    while station_env.agents:
        actions = _random_actions(station_env, rng)
        _, rewards, _, _, infos = station_env.step(actions)
        team_reward = team_env.step(actions)[1]["station_a"]
        _, sim_reward, kpi, out, _ = sim.step(_joined_by_hand(sc, actions))
        assert_allclose(team_reward, sim_reward, rtol=1e-9, atol=1e-9)
        books = {key: np.array([infos[a][key] for a in agents]) for key in BOOKS}
        for key, ref_key in BOOKS.items():
            assert_allclose(books[key], out[ref_key], atol=1e-9, err_msg=key)
        profit = (books["revenue_eur"] - books["market_payment_eur"] - books["energy_cost_eur"]
                  + books["storage_value_eur"] - books["degradation_cost_eur"]
                  - books["unmet_penalty_eur"] - books["overload_penalty_eur"])  # fmt: skip
        reward = np.array([rewards[a] for a in agents])
        assert_allclose(reward, profit, atol=1e-9)
        np.testing.assert_array_equal(reward, books["profit_eur"])  # a lookup
        # a station's overload, from its net power by hand
        grid_kw = np.array([st.grid_capacity_kw for st in sc.config.stations])
        excess_kwh = np.maximum(np.abs(books["net_kw"]) - grid_kw, 0.0) * sc.config.dt_h
        penalty = sc.config.reward.overload_penalty_eur_per_kwh
        assert_allclose(books["overload_penalty_eur"], excess_kwh * penalty, atol=1e-9)
        # the identity, with the reference's community KPIs
        owner = kpi["station_payment_eur"] + kpi["household_payment_eur"]
        owner += kpi["export_revenue_eur"]
        households = -kpi["household_payment_eur"] - (
            kpi["energy_cost_eur"] - books["energy_cost_eur"].sum())  # fmt: skip
        feeder = -(kpi["overload_penalty_eur"] - books["overload_penalty_eur"].sum())
        assert_allclose(reward.sum() + owner + households + feeder, team_reward, atol=1e-9)
        exercised["overload"] += books["overload_penalty_eur"].sum()
        exercised["unmet"] += books["unmet_penalty_eur"].sum()
        exercised["export"] += kpi["export_revenue_eur"]
        exercised["storage"] += np.abs(books["storage_value_eur"]).sum()
        exercised["wear"] += books["degradation_cost_eur"].sum()
    assert min(exercised.values()) > 0.0  # every part of the identity was exercised


def test_identity_with_soft_network_limits(tight_network):
    """With a network whose soft limits bind, its penalty is the community's: the stations'
    rewards plus the transfers and the community's own parts, minus the network penalty,
    are the team reward on every tick (the README's identity)."""
    tight_network["grid"]["limits"] = "soft"
    station_env = evgrid_gym.parallel_env(scenario=tight_network, reward="station")
    team_env = evgrid_gym.parallel_env(scenario=tight_network, reward="team")
    rng = np.random.default_rng(3)
    station_env.reset(seed=0)
    team_env.reset(seed=0)
    network_penalty_eur = 0.0
    while station_env.agents:
        actions = _random_actions(station_env, rng)
        _, rewards, _, _, infos = station_env.step(actions)
        team_reward = team_env.step(actions)[1][team_env.possible_agents[0]]
        kpi = dict(zip(L.KPI_NAMES, station_env.env.outputs.kpi, strict=True))
        stations = {key: sum(infos[a][key] for a in station_env.possible_agents)
                    for key in ("energy_cost_eur", "overload_penalty_eur")}  # fmt: skip
        owner = kpi["station_payment_eur"] + kpi["household_payment_eur"]
        owner += kpi["export_revenue_eur"]
        households = -kpi["household_payment_eur"] - (
            kpi["energy_cost_eur"] - stations["energy_cost_eur"])  # fmt: skip
        feeder = -(kpi["overload_penalty_eur"] - stations["overload_penalty_eur"])
        total = sum(rewards.values()) + owner + households + feeder
        assert_allclose(total - kpi["network_penalty_eur"], team_reward, atol=1e-9)
        network_penalty_eur += kpi["network_penalty_eur"]
    assert network_penalty_eur > 0.0  # the network's limits were broken and penalised


def test_station_reward_of_a_lone_station_by_hand():
    # electra_station, all connectors at full power, BESS idle: its profit is its EVs'
    # tariff for the battery energy they got, minus its energy bill, minus the unmet penalty
    env = evgrid_gym.parallel_env(scenario="electra_station", reward="station")
    env.reset(seed=0)
    config = env.scenario.config
    action = {"electra": np.array([1.0] * 8 + [0.0], np.float32)}
    tariff, dt_h = config.evs.tariff_eur_per_kwh, config.dt_h
    efficiency = config.stations[0].chargers[0].efficiency
    conn = env.env.state.conn
    plugged = conn[L.CN_EV].copy()
    while env.agents:
        price = env.scenario.unpack(env.state()).price_eur_per_kwh[0]
        _, rewards, _, _, infos = env.step(action)
        info = infos["electra"]
        revenue = (conn[L.CN_POWER_KW] * (plugged >= 0)).sum() * efficiency * dt_h * tariff
        bill = info["market_payment_eur"] + info["external_kwh"] * price
        assert_allclose(info["revenue_eur"], revenue, rtol=1e-9)
        assert_allclose(info["energy_cost_eur"], info["external_kwh"] * price, rtol=1e-6)
        assert_allclose(rewards["electra"], revenue - bill - info["unmet_penalty_eur"],
                        rtol=1e-6, atol=1e-6)  # fmt: skip
        plugged = conn[L.CN_EV].copy()


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("station_b"), r"missing for agents \['station_b'\]"),
        (lambda a: a.update(station_c=np.zeros(9, np.float32)),
         r"not live \['station_c'\]"),
        (lambda a: a.update(station_a=np.zeros(8, np.float32)),
         r"actions\['station_a'\]: got shape \(8,\)"),
        (lambda a: a.update(station_b=np.zeros(9, np.int64)),
         r"actions\['station_b'\]: got shape \(9,\) dtype int64"),
        (lambda a: a["station_b"].__setitem__(7, np.nan),
         r"actions\['station_b'\]: entries \[7\] are \[nan\]"),
        (lambda a: a["station_a"].__setitem__(0, np.inf),
         r"actions\['station_a'\]: entries \[0\] are \[inf\]"),
    ],
)  # fmt: skip
def test_bad_actions_name_the_agent_and_change_nothing(change, message):
    env = evgrid_gym.parallel_env(scenario=_uneven())
    env.reset(seed=3)
    good = {a: np.full(9, 0.7, np.float32) for a in env.agents}
    env.step(good)
    state, tick = env.state(), env.env.state.clock[L.CLK_TICK]
    bad = {a: action.copy() for a, action in good.items()}
    change(bad)
    with pytest.raises(ValueError, match=message):
        env.step(bad)
    np.testing.assert_array_equal(env.state(), state)
    assert env.env.state.clock[L.CLK_TICK] == tick
    # and it goes on exactly as an env that never saw the bad action
    twin = evgrid_gym.parallel_env(scenario=_uneven())
    twin.reset(seed=3)
    twin.step(good)
    assert env.step(good)[1] == twin.step(good)[1]


def test_bad_arguments_and_steps_outside_an_episode():
    with pytest.raises(ValueError, match="reward: got 'mine'"):
        evgrid_gym.parallel_env(scenario="default", reward="mine")
    for delay in (-1, 1.5, True):
        with pytest.raises(ValueError, match="delay_ticks: got"):
            evgrid_gym.parallel_env(scenario="default", delay_ticks=delay)
    env = evgrid_gym.parallel_env(scenario="electra_station")
    with pytest.raises(RuntimeError, match="call reset"):
        env.step({"electra": np.zeros(9, np.float32)})
    env.reset(seed=0)
    with pytest.raises(ValueError, match="must be a dict"):
        env.step([np.zeros(9, np.float32)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env.reset(seed=0, options={"date": "2019-07-01"})
    assert env.env.date == "2019-07-01"
