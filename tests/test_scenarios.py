"""The bundled scenarios: they load, run whole episodes inside their spaces, and have the
community the issue asks for."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from windpowerlib import WindTurbine, get_turbine_types

from baselines import make_policy
from evgrid_gym import EVGridEnv, bundled_scenarios, load_scenario

BUNDLED = ("default", "electra_station", "scenario1_normal", "scenario2_high_demand")


def _policy(name: str, env: EVGridEnv, seed: int):
    """Baseline policies plus the two extreme constant actions (full charge, full discharge)."""
    if name in ("all_plus_one", "all_minus_one"):
        action = np.full(env.action_space.shape, 1.0 if name == "all_plus_one" else -1.0,
                         dtype=np.float32)  # fmt: skip
        return lambda observation, info: action
    policy = make_policy(name, env.scenario)
    policy.reset(seed=seed)
    return policy.act


def _run(env: EVGridEnv, policy: str, seed: int, rollout) -> list[tuple]:
    return rollout(env, seed=seed, policy=_policy(policy, env, seed))


def test_every_issue_scenario_is_bundled():
    assert set(BUNDLED) <= set(bundled_scenarios())


@pytest.mark.parametrize("name", BUNDLED)
@pytest.mark.parametrize("policy", ["random", "uncontrolled", "all_plus_one", "all_minus_one"])
def test_full_episode_stays_inside_the_spaces(name, policy, rollout):
    env = EVGridEnv(name)
    ticks = load_scenario(name).episode_ticks
    for seed in (0, 1):
        trajectory = _run(env, policy, seed, rollout)
        assert len(trajectory) == ticks + 1, "episode must end after episode_ticks steps"
        space = env.observation_space
        for t, step in enumerate(trajectory):
            observation = step[0]
            assert observation.dtype == np.float32 and observation.shape == space.shape
            outside = np.flatnonzero(
                (observation < space.low) | (observation > space.high) | ~np.isfinite(observation)
            )
            assert outside.size == 0, (
                f"{name}/{policy}/seed {seed}, step {t}: entries {outside.tolist()} = "
                f"{observation[outside].tolist()} outside [{space.low[outside].tolist()}, "
                f"{space.high[outside].tolist()}]"
            )
            assert space.contains(observation)
        rewards = np.array([step[1] for step in trajectory[1:]])
        assert np.all(np.isfinite(rewards))
        assert trajectory[-1][2] is True and not any(step[2] for step in trajectory[1:-1])


def _real_turbine_types() -> set[str]:
    table = get_turbine_types(print_out=False)
    return set(table.loc[table["has_power_curve"], "turbine_type"])


def test_default_has_the_issue_community():
    config = load_scenario("default")
    turbines = config.wind.turbines
    assert sum(t.count for t in turbines) == 3
    assert all(t.turbine_type in _real_turbine_types() for t in turbines)
    assert config.households.count == 20
    assert len(config.stations) == 2
    for station in config.stations:
        assert sum(charger.count for charger in station.chargers) == 4, station.id
        assert all(charger.connectors == 2 for charger in station.chargers), station.id
        assert station.bess is not None, station.id
    assert config.episode_ticks == 96
    assert config.episode_ticks * config.dt_h == 24.0  # one day of 15-min ticks

    env = EVGridEnv(config)
    assert env.scenario.n_connectors == 2 * 4 * 2
    assert env.scenario.n_stations == 2


def test_default_wind_comes_from_the_windpowerlib_power_curve(rollout):
    config = load_scenario("default")
    with warnings.catch_warnings():
        # windpowerlib 0.2.2 calls a pandas method that pandas 3 deprecates; not ours to fix
        warnings.filterwarnings("ignore", module="windpowerlib")
        installed_kw = sum(
            t.count
            * WindTurbine(turbine_type=t.turbine_type, hub_height=t.hub_height_m)
            .power_curve["value"]
            .max()
            / 1000.0
            for t in config.wind.turbines
        )
    env = EVGridEnv(config)
    assert env.scenario.renewable_capacity_kw() == pytest.approx(installed_kw)
    produced = []
    for seed in range(3):
        trajectory = rollout(env, seed=seed)
        produced += [step[-1]["renewable_kwh"] / config.dt_h for step in trajectory[1:]]
    produced = np.array(produced)
    assert produced.max() > 0.0, "three turbines at 5 m/s mean wind must produce something"
    assert produced.max() <= installed_kw + 1e-9
    assert produced.min() >= 0.0


def test_electra_grid_capacity_is_below_its_charger_power():
    config = load_scenario("electra_station")
    assert len(config.stations) == 1
    station = config.stations[0]
    charger_kw = sum(c.max_power_kw * c.count for c in station.chargers)
    assert station.grid_capacity_kw < charger_kw
    assert station.bess is not None and station.bess.power_kw > 0


def test_electra_bess_lets_evs_draw_more_than_the_grid(rollout):
    # core/projection.py, rule 3: the station's net import stays within its grid capacity, and
    # a discharging BESS lets the EVs draw more than that capacity.
    env = EVGridEnv("electra_station")
    n_conn = env.scenario.n_connectors
    grid_kw = load_scenario("electra_station").stations[0].grid_capacity_kw
    dt_h = env.scenario.config.dt_h

    def policy(discharge: bool):
        def act(observation, info):
            action = np.ones(env.action_space.shape, dtype=np.float32)
            # the power the plugged-in EVs can take this tick
            wanted_kw = env.scenario.unpack(observation).max_power_kw.sum()
            action[n_conn:] = -1.0 if discharge and wanted_kw > grid_kw else 0.0
            return action

        return act

    peak = {}
    for discharge in (False, True):
        ev_kw = []
        for seed in range(3):
            for step in rollout(env, seed=seed, policy=policy(discharge))[1:]:
                info = step[-1]
                assert info["station_net_kw"][0] <= grid_kw * (1 + 1e-9)
                ev_kw.append(info["ev_charge_grid_kwh"] / dt_h)
        peak[discharge] = max(ev_kw)
    assert peak[False] <= grid_kw * (1 + 1e-9)
    assert peak[True] > 1.1 * grid_kw


@pytest.mark.parametrize("policy", ["uncontrolled", "random"])
def test_high_demand_buys_more_and_rejects_more_reservations_than_normal(policy, rollout):
    kpis = {}
    for name in ("scenario1_normal", "scenario2_high_demand"):
        env = EVGridEnv(name)
        config = env.scenario.config
        assert config.reservation.enabled and config.faults.enabled
        kpis[name] = [_run(env, policy, seed, rollout)[-1][-1]["episode_kpis"] for seed in range(4)]
    for seed, (normal, high) in enumerate(
        zip(kpis["scenario1_normal"], kpis["scenario2_high_demand"], strict=True)
    ):
        assert high["external_energy_kwh"] > normal["external_energy_kwh"], f"seed {seed}"
        assert high["acceptance_rate"] < normal["acceptance_rate"], f"seed {seed}"
        for k in (normal, high):  # households present; always served in full (core.market)
            assert k["household_kwh"] > 0.0
            assert k["total_reservation_requests"] > 0
    rejected = {name: sum(k["reservations_rejected"] for k in v) for name, v in kpis.items()}
    assert rejected["scenario2_high_demand"] > rejected["scenario1_normal"]


def test_scenario_arrays_are_read_only():
    scenario = EVGridEnv("default").scenario
    for name in ("cfg", "charger_f", "station_f", "reward_weights", "observation_low"):
        with pytest.raises(ValueError):
            getattr(scenario, name)[0] = 0.0
