"""No reward from nothing (the economics of EVGrid-v2).

Moving energy into and out of the same battery (an EV by V2G, a station battery) with no
price difference must never pay, and a station battery's stored energy has a value, so
draining it is not free. The checks: a hand-worked V2G loop on surplus wind; a property over
random scenarios, states and prices (a policy with a cycle never beats the same policy without
it when every kWh of grid energy is worth the same); the drain policy on ``electra_station``.
With battery degradation on, a cycle that breaks even loses exactly its wear, worked out by
hand from the config's battery prices and cycle lives.
"""

import numpy as np
import pytest
import reference as ref
from numpy.testing import assert_allclose

from evgrid_gym.core import layout as L
from evgrid_gym.envs import EVGridEnv


def _v2g_connector_scenario():
    """One 11 kW V2G connector with one EV (40 kWh at soc 0.5, 11 kW both ways, target 1.0),
    100 kW of wind that nobody else takes (curtailed): energy is free."""
    sc = ref.hand_scenario(
        [{"chargers": [(11.0, 1)]}],
        [{"arrival": 0, "departure": 12, "v2g_kw": 11.0, "soc": 0.5, "target": 1.0}],
        reservation=False, renewable_kw=100.0, wind_kw=100.0,
    )  # fmt: skip
    sc["charger_f"][L.CH_V2G] = 1.0
    sc["cfg"][L.CFG_EXPORT] = 0.0
    return sc


def _episode_reward(sc, actions):
    core = ref.CoreSim(sc)
    core.reset()
    total = 0.0
    for action in actions:
        total += core.step(action)[1]
    assert core.done
    return total, core


@pytest.mark.parametrize("wear_eur_per_kwh", [0.0, 0.05])
def test_cycling_an_ev_on_free_wind_earns_nothing(wear_eur_per_kwh):
    """The issue's loop, V2G and back, against plain charging to the same final soc: -0.5
    takes 5.5 kW x 0.25 h / 0.9 from the battery, +0.5 / 0.81 of 11 kW puts it back. With a
    V2G wear cost per battery kWh taken out, the loop loses exactly that on those kWh."""
    plain = [np.array([1.0, 0.0])] * 4 + [np.array([0.0, 0.0])] * 8
    back = 0.5 / 0.81
    cycling = [np.array([-0.5, 0.0]), np.array([back, 0.0])] * 4 + [np.array([1.0, 0.0])] * 4
    sc = _v2g_connector_scenario()
    sc["cfg"][L.CFG_V2G_DEGRADATION] = wear_eur_per_kwh
    reward_plain, core_plain = _episode_reward(sc, plain)
    reward_cycling, core_cycling = _episode_reward(sc, cycling)
    # both deliver the same energy into the battery
    assert_allclose(core_cycling.total_kpi("delivered_kwh"), core_plain.total_kpi("delivered_kwh"))
    assert_allclose(core_cycling.total_kpi("ev_discharge_grid_kwh"), 4 * 5.5 * 0.25)  # cycled
    assert_allclose(core_cycling.total_kpi("energy_cost_eur"), 0.0, atol=1e-12)
    # paid per battery kWh both ways: the round trip's losses came from free wind; the wear
    # is booked on the 4 x 5.5 x 0.25 / 0.9 kWh V2G took out of the battery
    wear = wear_eur_per_kwh * 4 * 5.5 * 0.25 / 0.9
    assert_allclose(core_plain.total_kpi("degradation_cost_eur"), 0.0, atol=1e-15)
    assert_allclose(core_cycling.total_kpi("degradation_cost_eur"), wear, rtol=1e-12)
    assert_allclose(reward_cycling, reward_plain - wear, rtol=1e-12)


def _one_price_scenario(rng):
    """A random scenario in which every kWh of grid energy is worth one price at every tick
    (external price = feed-in = storage value, exported surplus) and no grid or feeder limit
    binds: a cycle cannot buy cheap and sell dear, nor relieve a limit for somebody else.
    Half of them wear their batteries (a cost per kWh of V2G and BESS throughput)."""
    sc = ref.random_scenario(rng, n_stations=int(rng.integers(1, 3)), n_ticks=6, export=True,
                             bess_action=True, degradation=rng.random() < 0.5)  # fmt: skip
    price = rng.uniform(0.02, 0.6)
    for field in (L.EXO_PRICE, L.EXO_FEED_IN, L.EXO_STORAGE_VALUE):
        sc["exo"][field] = price
    sc["station_f"][L.ST_GRID_KW] = 1e6
    sc["cfg"][L.CFG_FEEDER_KW] = 1e7
    return sc


def _battery_state(core, kind, index):
    """``(energy_kwh, occupant)`` of a connector's EV or a BESS."""
    if kind == "conn":
        return core.conn[L.CN_SOC, index] * core.conn[L.CN_BATTERY_KWH, index], core.conn[
            L.CN_EV, index
        ]
    return core.bess_soc[index] * core.sc["station_f"][L.ST_BESS_KWH, index], 0.0


def _restoring_action(core, kind, index, target_kwh):
    """The action entry that brings the battery to ``target_kwh`` this tick (before limits)."""
    energy, _ = _battery_state(core, kind, index)
    dt = core.sc["cfg"][L.CFG_DT_H]
    if kind == "conn":
        k = core.sc["connector_charger"][index]
        eff, rated = core.sc["charger_f"][L.CH_EFFICIENCY, k], core.sc["charger_f"][L.CH_MAX_KW, k]
    else:
        station_f = core.sc["station_f"]
        eff, rated = station_f[L.ST_BESS_EFFICIENCY, index], station_f[L.ST_BESS_KW, index]
    gain = target_kwh - energy
    power = gain / (eff * dt) if gain >= 0.0 else gain * eff / dt
    return power / rated


def test_a_cycle_never_beats_the_same_policy_without_it():
    """Policy A leaves one battery idle at ticks t and t + 1; policy B is A plus a round
    trip through it, a discharge at t and the recharge that restores its energy at t + 1.
    Where every kWh is worth the same, B <= A."""
    rng = np.random.default_rng(2024)
    checked = 0
    for _ in range(400):
        sc = _one_price_scenario(rng)
        n_conn = sc["connector_charger"].size
        n_actions = n_conn + sc["station_f"].shape[1]
        actions = rng.uniform(-1.0, 1.0, (6, n_actions))
        base = ref.CoreSim(sc)
        base.reset()
        t = int(rng.integers(0, 5))
        for a in actions[:t]:
            base.step(a)
        v2g = [c for c in range(n_conn) if base.conn[L.CN_MAX_V2G_KW, c] > 0]
        bess = [s for s in range(sc["station_f"].shape[1]) if sc["station_f"][L.ST_BESS_KWH, s] > 0]
        candidates = [("conn", c) for c in v2g] + [("bess", s) for s in bess]
        if not candidates:
            continue
        kind, index = candidates[rng.integers(len(candidates))]
        cycled = ref.CoreSim(sc)
        cycled.reset()
        for a in actions[:t]:
            cycled.step(a)
        entry = index if kind == "conn" else n_conn + index
        actions[t : t + 2, entry] = 0.0
        first = actions[t].copy()
        first[entry] = -rng.uniform(0.1, 1.0)
        base.step(actions[t])
        cycled.step(first)
        before_base, occupant = _battery_state(base, kind, index)
        if _battery_state(cycled, kind, index)[0] >= before_base - 1e-9:
            continue  # the extra discharge was not possible (floor, no EV, limits)
        second = actions[t + 1].copy()
        base.step(actions[t + 1])
        after_base, occupant_after = _battery_state(base, kind, index)
        second[entry] = _restoring_action(cycled, kind, index, after_base)
        if abs(second[entry]) > 1.0 or occupant_after != occupant:
            continue
        cycled.step(second)
        if abs(_battery_state(cycled, kind, index)[0] - after_base) > 1e-9:
            continue  # the restore met a limit (CC-CV, target, charger shared)
        for a in actions[t + 2 :]:
            base.step(a)
            cycled.step(a)
        reward_base = float(sc["reward_weights"] @ base.kpi_total)
        reward_cycled = float(sc["reward_weights"] @ cycled.kpi_total)
        scale = 1.0 + abs(reward_base)
        assert reward_cycled <= reward_base + 1e-9 * scale, (kind, reward_cycled, reward_base)
        checked += 1
    assert checked >= 100, checked


def test_draining_the_station_battery_no_longer_pays():
    """``electra_station``: exporting the BESS's initial charge against keeping it, EVs idle
    (v1 paid the feed-in for it, 20 of 20 days)."""
    env = EVGridEnv("electra_station")
    keep = np.zeros(env.action_space.shape, np.float32)
    drain = keep.copy()
    drain[env.scenario.n_connectors :] = -1.0
    for seed in range(5):
        rewards = {}
        for name, action in (("keep", keep), ("drain", drain)):
            env.reset(seed=seed)
            total, done = 0.0, False
            while not done:
                _, reward, done, _, _ = env.step(action)
                total += reward
            rewards[name] = total
        assert env.kpi_total[L.KPI["export_kwh"]] > 50.0  # the drain was exported
        assert rewards["drain"] < rewards["keep"], (seed, rewards)


# --------------------------------------------------------------------------------------------
# Battery degradation: a break-even cycle loses exactly its wear
# --------------------------------------------------------------------------------------------

PRICE_EUR_PER_KWH = 0.3
"""External price = feed-in = storage value: a lossless cycle breaks even."""


def _cycle_config(degradation: bool) -> dict:
    """One station: a lossless 11 kW V2G charger with a 40 kWh EV at soc 0.5 for the whole
    hour, a lossless 100 kWh, 20 kW BESS (soc 0.1-0.9, at 0.5); one price for every kWh; wear
    prices EV 120 EUR/kWh, 1500 cycles, 80 % usable; BESS 200 EUR/kWh, 2000 cycles."""
    return {
        "name": "break_even",
        "episode_ticks": 4,
        "grid": {"feeder_limit_kw": 1000.0},
        "supplier": {"price_eur_per_kwh": PRICE_EUR_PER_KWH,
                     "feed_in_eur_per_kwh": PRICE_EUR_PER_KWH},
        "reward": {"storage_value_eur_per_kwh": PRICE_EUR_PER_KWH},
        "stations": [{
            "id": "a", "grid_capacity_kw": 100.0,
            "bess": {"capacity_kwh": 100.0, "power_kw": 20.0, "efficiency": 1.0,
                     "soc_min": 0.1, "soc_max": 0.9, "initial_soc": 0.5},
            "chargers": [{"max_power_kw": 11.0, "efficiency": 1.0, "v2g": True}],
        }],
        "evs": {"source": "sessions", "sessions": [
            {"station": "a", "arrival_tick": 0, "departure_tick": 4, "battery_kwh": 40.0,
             "soc_arrival": 0.5, "max_v2g_kw": 11.0},
        ]},
        "degradation": {
            "enabled": degradation,
            "ev": {"price_eur_per_kwh": 120.0, "cycle_life": 1500, "usable_fraction": 0.8},
            "bess": {"price_eur_per_kwh": 200.0, "cycle_life": 2000},
        },
    }  # fmt: skip


# the cycle out and back in ticks 0 and 1 (action entries: connector, BESS), and its wear:
# V2G takes 11 kW x 0.25 h = 2.75 kWh out, each worth two halves of a cycle at
# 120 / (1500 x 2 x 0.8) = 0.05 EUR: 0.275 EUR; the BESS moves 20 kW x 0.25 h = 5 kWh in and
# 5 kWh out, each at 200 / (2000 x 2 x (0.9 - 0.1)) = 0.0625 EUR: 0.625 EUR
CYCLES = {
    "V2G": ([-1.0, 0.0], [1.0, 0.0], 2.75 * 2 * 0.05),
    "BESS": ([0.0, 1.0], [0.0, -1.0], 10.0 * 0.0625),
}


def _cycle_rewards(config: dict, out, back) -> tuple[float, float, float]:
    """``(reward idle, reward with the cycle, the cycle's degradation_cost_eur)``."""
    env = EVGridEnv(config)
    rewards = []
    for actions in ([[0.0, 0.0]] * 4, [out, back, [0.0, 0.0], [0.0, 0.0]]):
        env.reset(seed=0)
        rewards.append(sum(env.step(np.array(a, np.float32))[1] for a in actions))
        assert env.kpi_total[L.KPI["unmet_energy_kwh"]] == pytest.approx(20.0)  # back at 0.5
    return rewards[0], rewards[1], float(env.kpi_total[L.KPI["degradation_cost_eur"]])


@pytest.mark.parametrize("battery", list(CYCLES))
def test_a_break_even_cycle_loses_exactly_its_wear(battery):
    out, back, wear_eur = CYCLES[battery]
    idle, cycled, booked = _cycle_rewards(_cycle_config(degradation=False), out, back)
    assert cycled == pytest.approx(idle, abs=1e-12)  # break-even without wear
    assert booked == 0.0
    idle_worn, cycled_worn, booked = _cycle_rewards(_cycle_config(degradation=True), out, back)
    assert idle_worn == pytest.approx(idle, abs=1e-12)  # idle batteries do not wear
    assert booked == pytest.approx(wear_eur, rel=1e-12)
    assert cycled_worn - idle_worn == pytest.approx(-wear_eur, rel=1e-12)
