"""Charging reservations by contract net (core/contract_net.py): hand-worked cases.

Every expected number is worked out by hand from the rules in the ``core/contract_net.py``
docstring. The scenarios are small (``reference.hand_scenario``): 11 kW AC chargers at 90 %
efficiency, 40 kWh EVs at soc 0.5 wanting soc 1.0 (20 kWh), 15-minute ticks, so a window of
8 ticks is 2 h and an unconstrained offer is ``min(20, 11 kW x 2 h x 0.9) = 19.8`` kWh.
"""

import numpy as np
import pytest
import reference as ref
from numpy.testing import assert_allclose

from evgrid_gym.core import layout as L
from evgrid_gym.core.contract_net import (
    N_OFFER_FIELDS,
    OF_CONNECTOR,
    OF_DISTANCE_KM,
    OF_ENERGY_KWH,
    OF_PRICE,
    OF_REACHABLE,
    OF_UTILISATION,
    choose_offer,
    station_offers,
)


def _offers(scenario, e, *, conn=None, res=None, first_ev=0, tick=0):
    """Every station's offer to EV ``e``'s request at ``tick`` (the real kernel), shape
    (N_OFFER_FIELDS, S); nothing plugged in and no reservations unless given."""
    sc = scenario
    n_conn = sc["connector_charger"].size
    if conn is None:
        conn = np.zeros((L.N_CONN_FIELDS, n_conn))
        conn[L.CN_EV] = -1.0
    if res is None:
        res = np.zeros((L.N_RES_FIELDS, sc["ev"].shape[1]))
        res[L.RS_CONNECTOR] = -1.0
    offer = np.zeros((N_OFFER_FIELDS, sc["station_f"].shape[1]))
    core = ref.CoreSim(sc)
    state = core.state._replace(conn=conn, res=res)
    station_offers(core.static, core.episode, state, first_ev, e, tick, np.zeros(n_conn), offer)
    return offer


def _choose(scenario, offer, e=0):
    ev = scenario["ev"]
    need = (ev[L.EV_SOC_TARGET, e] - ev[L.EV_SOC_ARRIVAL, e]) * ev[L.EV_BATTERY_KWH, e]
    return choose_offer(scenario["cfg"], offer, need, ev[L.EV_MAX_PRICE, e])


def _run(core, n_steps, action=None):
    for _ in range(n_steps):
        core.step(np.zeros(core.n_actions) if action is None else action)


# one EV at x = 2 km wanting 20 kWh, planned 4..12 (2 h), request at tick 0
EV_A = {"arrival": 4, "departure": 12, "request": 0, "x_km": 2.0}
TWO_STATIONS = [
    {"chargers": [(11.0, 1)], "x_km": 0.0, "price": 0.5},
    {"chargers": [(11.0, 1)], "x_km": 10.0, "price": 0.5},
]


# --- offers and the choice ------------------------------------------------------------------


def test_closer_station_wins_at_equal_price():
    scenario = ref.hand_scenario(TWO_STATIONS, [EV_A], n_ticks=16)
    offer = _offers(scenario, 0)
    assert_allclose(offer[OF_REACHABLE], [1.0, 1.0])
    assert_allclose(offer[OF_CONNECTOR], [0.0, 1.0])
    assert_allclose(offer[OF_ENERGY_KWH], [19.8, 19.8])  # 11 kW x 2 h x 0.9 < 20 kWh
    assert_allclose(offer[OF_PRICE], [0.5, 0.5])
    assert_allclose(offer[OF_DISTANCE_KM], [2.0, 8.0])
    assert _choose(scenario, offer) == 0
    # from x = 9 km the other station is the closer one
    scenario["ev"][L.EV_X_KM] = 9.0
    assert _choose(scenario, _offers(scenario, 0)) == 1

    # the whole round in the tick kernel: confirmed at station 0's connector, at its offer
    scenario["ev"][L.EV_X_KM] = 2.0
    core = ref.CoreSim(scenario)
    core.reset()
    assert core.tick_kpi("reservation_requests") == 1
    assert core.tick_kpi("reservations_confirmed") == 1
    assert core.res[L.RS_STATUS, 0] == L.RES_CONFIRMED
    assert_allclose(core.res[[L.RS_CONNECTOR, L.RS_PRICE, L.RS_ENERGY_KWH], 0], [0, 0.5, 19.8])


def test_equal_offers_go_to_the_lowest_station_index():
    scenario = ref.hand_scenario(TWO_STATIONS, [{**EV_A, "x_km": 5.0}], n_ticks=16)
    offer = _offers(scenario, 0)
    assert_allclose(offer[OF_DISTANCE_KM], [5.0, 5.0])
    assert _choose(scenario, offer) == 0


@pytest.mark.parametrize(("price_weight", "winner"), [(100.0, 1), (5.0, 0)])
def test_cheap_far_station_wins_when_the_price_weight_dominates(price_weight, winner):
    # near (2 km) at 0.9 EUR/kWh against far (8 km) at 0.3 EUR/kWh, the same 19.8 kWh:
    # price weight 100: -90 - 2 = -92 < -30 - 8 = -38, the far one wins;
    # price weight 5: -4.5 - 2 = -6.5 > -1.5 - 8 = -9.5, the near one wins
    stations = [{**TWO_STATIONS[0], "price": 0.9}, {**TWO_STATIONS[1], "price": 0.3}]
    scenario = ref.hand_scenario(stations, [EV_A], n_ticks=16, price_weight=price_weight)
    assert _choose(scenario, _offers(scenario, 0)) == winner
    core = ref.CoreSim(scenario)
    core.reset()
    assert core.res[L.RS_CONNECTOR, 0] == winner  # one connector per station
    assert_allclose(core.res[L.RS_PRICE, 0], [0.9, 0.3][winner])


def test_more_energy_wins_when_the_energy_weight_dominates():
    # station 0 is near but its grid gives only 2 kW: 2 kW x 2 h x 0.9 = 3.6 kWh offered;
    # station 1 is 6 km further and offers 19.8 kWh. Energy weight 1: 3.6 - 5 - 2 = -3.4
    # against 19.8 - 5 - 8 = 6.8: the far one. Energy weight 0.1: -4.64 against -11.02.
    stations = [{**TWO_STATIONS[0], "grid_kw": 2.0}, TWO_STATIONS[1]]
    for weight, winner in ((1.0, 1), (0.1, 0)):
        scenario = ref.hand_scenario(stations, [EV_A], n_ticks=16, energy_weight=weight)
        offer = _offers(scenario, 0)
        assert_allclose(offer[OF_ENERGY_KWH], [3.6, 19.8])
        assert _choose(scenario, offer) == winner


def test_price_above_the_limit_is_rejected():
    stations = [{**TWO_STATIONS[0], "price": 0.5}, {**TWO_STATIONS[1], "price": 0.6}]
    scenario = ref.hand_scenario(stations, [{**EV_A, "max_price": 0.45}], n_ticks=16)
    assert _choose(scenario, _offers(scenario, 0)) == -1
    core = ref.CoreSim(scenario)
    core.reset()
    assert core.res[L.RS_STATUS, 0] == L.RES_REJECTED
    assert core.res[L.RS_CONNECTOR, 0] == -1
    assert core.tick_kpi("reservation_requests") == 1
    assert core.tick_kpi("reservations_rejected") == 1
    assert core.tick_kpi("reservations_confirmed") == 0
    # a price equal to the limit is acceptable
    scenario["ev"][L.EV_MAX_PRICE] = 0.5
    assert _choose(scenario, _offers(scenario, 0)) == 0


def test_too_little_energy_is_rejected():
    # planned 4, departure 5: one tick, 11 kW x 0.25 h x 0.9 = 2.475 kWh of the 20 kWh needed
    ev = {**EV_A, "departure": 5}
    scenario = ref.hand_scenario(TWO_STATIONS, [ev], n_ticks=16, min_energy_fraction=0.5)
    offer = _offers(scenario, 0)
    assert_allclose(offer[OF_ENERGY_KWH], [2.475, 2.475])
    assert _choose(scenario, offer) == -1  # 2.475 < 0.5 x 20
    core = ref.CoreSim(scenario)
    core.reset()
    assert core.res[L.RS_STATUS, 0] == L.RES_REJECTED
    assert core.tick_kpi("reservations_rejected") == 1
    # 2.475 >= 0.1 x 20 = 2 is enough
    scenario["cfg"][L.CFG_MIN_ENERGY_FRACTION] = 0.1
    assert _choose(scenario, offer) == 0


def test_no_free_connector_is_no_offer():
    # the only connector is held by EV 1's reservation over [6, 10), inside EV 0's window
    scenario = ref.hand_scenario(TWO_STATIONS[:1], [EV_A, {"arrival": 6, "departure": 10}],
                                 n_ticks=16)  # fmt: skip
    res = np.zeros((L.N_RES_FIELDS, 2))
    res[L.RS_CONNECTOR] = -1.0
    res[[L.RS_STATUS, L.RS_CONNECTOR], 1] = [L.RES_CONFIRMED, 0]
    offer = _offers(scenario, 0, res=res)
    assert offer[OF_CONNECTOR, 0] == -1.0 and offer[OF_ENERGY_KWH, 0] == 0.0
    assert _choose(scenario, offer) == -1
    # a reservation ending at the planned arrival does not overlap: the connector is free
    scenario["ev"][L.EV_DEPARTURE, 1] = 4
    assert _offers(scenario, 0, res=res)[OF_CONNECTOR, 0] == 0.0


def test_utilisation_raises_the_price_and_commitments_cut_the_headroom():
    # three 11 kW chargers, grid 15 kW: connector 0 has an EV plugged in until tick 8, connector
    # 1 is reserved by EV 1 over [6, 10), connector 2 is free. EV 0's window [4, 12), 8 ticks:
    # committed connector-ticks 4 + 4 of 3 x 8 -> utilisation 1/3, price 0.5 + 0.4 / 3;
    # committed power (4 x 11 + 4 x 11) / 8 = 11 kW -> headroom 15 - 11 = 4 kW,
    # energy 4 kW x 2 h x 0.9 = 7.2 kWh on connector 2
    station = {"chargers": [(11.0, 1)] * 3, "grid_kw": 15.0, "price": 0.5}
    scenario = ref.hand_scenario([station], [EV_A, {"arrival": 6, "departure": 10}],
                                 n_ticks=16, markup=0.4)  # fmt: skip
    conn = np.zeros((L.N_CONN_FIELDS, 3))
    conn[L.CN_EV] = -1.0
    conn[[L.CN_OCCUPIED, L.CN_EV, L.CN_DEPARTURE], 0] = [1.0, 5.0, 8.0]
    res = np.zeros((L.N_RES_FIELDS, 2))
    res[L.RS_CONNECTOR] = -1.0
    res[[L.RS_STATUS, L.RS_CONNECTOR], 1] = [L.RES_CONFIRMED, 1]
    offer = _offers(scenario, 0, conn=conn, res=res)
    assert_allclose(offer[OF_UTILISATION, 0], 1 / 3)
    assert_allclose(offer[OF_PRICE, 0], 0.5 + 0.4 / 3)
    assert offer[OF_CONNECTOR, 0] == 2.0
    assert_allclose(offer[OF_ENERGY_KWH, 0], 7.2)
    # an idle station asks its base price
    idle = _offers(scenario, 0)
    assert_allclose(idle[[OF_UTILISATION, OF_PRICE, OF_ENERGY_KWH], 0], [0.0, 0.5, 19.8])
    # a markup of 0 is a fixed price
    scenario["cfg"][L.CFG_UTILISATION_MARKUP] = 0.0
    assert_allclose(_offers(scenario, 0, conn=conn, res=res)[OF_PRICE, 0], 0.5)


def test_utilisation_tips_the_choice_to_an_idle_station():
    # both 2 km away; station 0 (base 0.5) has its second connector reserved over the whole
    # window: utilisation 8 / (2 x 8) = 0.5, price 0.5 + 0.4 x 0.5 = 0.7 > station 1's 0.6
    stations = [
        {"chargers": [(11.0, 2)], "x_km": 0.0, "price": 0.5},
        {"chargers": [(11.0, 1)], "x_km": 4.0, "price": 0.6},
    ]
    evs = [EV_A, {"arrival": 4, "departure": 12}]
    scenario = ref.hand_scenario(stations, evs, n_ticks=16, markup=0.4)
    res = np.zeros((L.N_RES_FIELDS, 2))
    res[L.RS_CONNECTOR] = -1.0
    res[[L.RS_STATUS, L.RS_CONNECTOR], 1] = [L.RES_CONFIRMED, 1]
    offer = _offers(scenario, 0, res=res)
    assert_allclose(offer[OF_PRICE], [0.7, 0.6])
    assert_allclose(offer[OF_ENERGY_KWH], [19.8, 19.8])
    assert _choose(scenario, offer) == 1
    assert _choose(scenario, _offers(scenario, 0)) == 0  # idle: 0.5 against 0.6


# --- holds, no-shows, late arrivals -----------------------------------------------------------

ONE_CONNECTOR = [{"chargers": [(11.0, 1)], "price": 0.5}]


def test_confirmed_reservation_holds_its_connector_against_walk_ins():
    # EV 2 reserves the only connector at tick 0 for [4, 8). At tick 1 two walk-ins come:
    # EV 0 would stay until 6 (overlaps the hold): rejected; EV 1 leaves at 4: plugged in.
    evs = [
        {"arrival": 1, "departure": 6, "station": 0},
        {"arrival": 1, "departure": 4, "station": 0},
        {"arrival": 4, "departure": 8, "request": 0, "tariff": 0.3},
    ]
    core = ref.CoreSim(ref.hand_scenario(ONE_CONNECTOR, evs))
    core.reset()
    assert core.res[L.RS_STATUS, 2] == L.RES_CONFIRMED and core.res[L.RS_CONNECTOR, 2] == 0
    core.step(np.zeros(core.n_actions))
    assert core.tick_kpi("arrivals") == 2 and core.tick_kpi("rejected_arrivals") == 1
    assert core.conn[L.CN_EV, 0] == 1
    _run(core, 3)  # EV 1 leaves at 4, EV 2 arrives at 4
    assert core.tick_kpi("departures") == 1 and core.tick_kpi("arrivals") == 1
    assert core.conn[L.CN_EV, 0] == 2
    assert core.res[L.RS_STATUS, 2] == L.RES_SERVED and core.tick_kpi("reservations_served") == 1
    assert core.conn[L.CN_TARIFF, 0] == 0.5  # the agreed price, not its tariff of 0.3


def test_walk_in_takes_another_free_connector_than_the_held_one():
    # two connectors of one station; connector 0 is held for EV 1: the walk-in EV 0 (any
    # station) gets connector 1
    stations = [{"chargers": [(11.0, 2)], "price": 0.5}]
    evs = [{"arrival": 1, "departure": 8}, {"arrival": 3, "departure": 8, "request": 0}]
    core = ref.CoreSim(ref.hand_scenario(stations, evs))
    core.reset()
    assert core.res[L.RS_CONNECTOR, 1] == 0
    core.step(np.zeros(core.n_actions))
    assert_allclose(core.conn[L.CN_EV], [-1, 0])


def test_no_show_is_released_after_the_grace_period():
    # EV 2 (never comes) reserves the only connector at tick 0 for [1, 8); grace 1 tick, so
    # the hold lasts through tick 2 and is released at tick 3 (3 > 1 + 1). Walk-in EV 0 at
    # tick 2 is rejected; walk-in EV 1 at tick 3 finds the connector free.
    evs = [
        {"arrival": 2, "departure": 8},
        {"arrival": 3, "departure": 8},
        {"arrival": np.inf, "planned": 1, "departure": 8, "request": 0},
    ]
    core = ref.CoreSim(ref.hand_scenario(ONE_CONNECTOR, evs, grace_ticks=1))
    core.reset()
    assert core.res[L.RS_STATUS, 2] == L.RES_CONFIRMED
    _run(core, 2)  # -> tick 2
    assert core.res[L.RS_STATUS, 2] == L.RES_CONFIRMED and core.total_kpi("no_shows") == 0
    assert core.tick_kpi("arrivals") == 1 and core.tick_kpi("rejected_arrivals") == 1
    core.step(np.zeros(core.n_actions))  # -> tick 3
    assert core.tick_kpi("no_shows") == 1
    assert core.res[L.RS_STATUS, 2] == L.RES_EXPIRED and core.res[L.RS_CONNECTOR, 2] == -1
    assert core.tick_kpi("arrivals") == 1 and core.tick_kpi("rejected_arrivals") == 0
    assert core.conn[L.CN_EV, 0] == 1
    _run(core, 9)
    assert core.done
    assert core.total_kpi("reservations_confirmed") == 1 and core.total_kpi("no_shows") == 1
    assert core.total_kpi("reservations_served") == 0


@pytest.mark.parametrize(("arrival", "served"), [(2, True), (3, True), (4, False)])
def test_late_ev_within_grace_is_served_and_pays_the_reservation_price(arrival, served):
    # planned at 2, grace 1: arriving at 2 or 3 it plugs into its connector and pays the
    # agreed 0.6 EUR/kWh; at 4 the reservation has expired (4 > 3) and it walks in at its
    # tariff of 0.4. One tick at full power: 11 kW x 0.25 h = 2.75 kWh.
    stations = [{"chargers": [(11.0, 1)], "price": 0.6}]
    evs = [{"arrival": arrival, "planned": 2, "departure": 8, "request": 0, "station": 0}]
    core = ref.CoreSim(ref.hand_scenario(stations, evs, grace_ticks=1, markup=0.4))
    core.reset()
    assert_allclose(core.res[L.RS_PRICE, 0], 0.6)  # idle station: no markup
    _run(core, arrival)
    assert core.conn[L.CN_EV, 0] == 0
    assert core.total_kpi("no_shows") == (0 if served else 1)
    assert core.total_kpi("reservations_served") == (1 if served else 0)
    assert core.res[L.RS_STATUS, 0] == (L.RES_SERVED if served else L.RES_EXPIRED)
    tariff = 0.6 if served else 0.4
    assert core.conn[L.CN_TARIFF, 0] == tariff
    core.step(np.ones(core.n_actions))
    assert_allclose(core.tick_kpi("ev_charge_grid_kwh"), 2.75)
    assert_allclose(core.tick_kpi("revenue_eur"), 0.9 * 2.75 * tariff)  # per battery kWh


def test_request_without_answer_is_retried_then_rejected_at_the_planned_arrival():
    # the only station's link is down at ticks 0..2; the request (tick 0, planned 2) gets no
    # answer: pending at 0 and 1 (one missed deadline each), rejected at 2
    evs = [{"arrival": 2, "departure": 8, "request": 0, "station": 0}]
    scenario = ref.hand_scenario(ONE_CONNECTOR, evs)
    scenario["outage"][:3, 1] = 1.0  # columns: charger 0, the link of station 0, wind
    core = ref.CoreSim(scenario)
    core.reset()
    assert core.res[L.RS_STATUS, 0] == L.RES_PENDING
    assert core.tick_kpi("reservation_requests") == 1 and core.tick_kpi("missed_deadlines") == 1
    core.step(np.zeros(core.n_actions))  # tick 0's setpoints miss, tick 1's request round too
    assert core.res[L.RS_STATUS, 0] == L.RES_PENDING
    assert core.tick_kpi("missed_deadlines") == 2 and core.tick_kpi("reservation_requests") == 0
    core.step(np.zeros(core.n_actions))
    assert core.res[L.RS_STATUS, 0] == L.RES_REJECTED
    assert core.tick_kpi("reservations_rejected") == 1
    assert core.conn[L.CN_EV, 0] == 0  # it still walks in
    assert core.total_kpi("reservation_requests") == 1


def test_request_answered_when_the_link_comes_back_before_the_planned_arrival():
    evs = [{"arrival": 2, "departure": 8, "request": 0, "station": 0}]
    scenario = ref.hand_scenario(ONE_CONNECTOR, evs)
    scenario["outage"][:2, 1] = 1.0  # link down at ticks 0 and 1, up at 2
    core = ref.CoreSim(scenario)
    core.reset()
    _run(core, 2)
    assert core.res[L.RS_STATUS, 0] == L.RES_SERVED  # confirmed at 2, plugged in at 2
    assert core.total_kpi("reservations_confirmed") == 1 and core.total_kpi("missed_deadlines") == 4


def test_expired_no_show_frees_its_connector_for_a_request_in_the_same_tick():
    # EV 1 (never comes, so last in the table) reserves the only connector at tick 0 for
    # [0, 8), grace 0: at tick 1 (1 > 0 + 0) it is a no-show and its hold is released. EV 0
    # requests at tick 1 for [2, 4): the connector is free then, so it should be confirmed.
    evs = [
        {"arrival": 2, "departure": 4, "request": 1},
        {"arrival": np.inf, "planned": 0, "departure": 8, "request": 0},
    ]
    core = ref.CoreSim(ref.hand_scenario(ONE_CONNECTOR, evs, grace_ticks=0))
    core.reset()
    assert core.res[L.RS_STATUS, 1] == L.RES_CONFIRMED
    core.step(np.zeros(core.n_actions))
    assert core.res[L.RS_STATUS, 1] == L.RES_EXPIRED
    assert core.res[L.RS_STATUS, 0] == L.RES_CONFIRMED


def test_early_ev_whose_connector_is_still_taken_ends_its_reservation():
    # EV 1 reserves the only connector for [3, 6) at tick 0; walk-in EV 0 takes it for [0, 3).
    # EV 1 comes early at tick 1: the connector is taken, so it is rejected as a walk-in.
    evs = [{"arrival": 0, "departure": 3}, {"arrival": 1, "planned": 3, "departure": 6,
                                            "request": 0}]  # fmt: skip
    core = ref.CoreSim(ref.hand_scenario(ONE_CONNECTOR, evs, n_ticks=8))
    core.reset()
    _run(core, 8)
    assert core.done and core.total_kpi("rejected_arrivals") == 1
    assert core.res[L.RS_STATUS, 1] == L.RES_CANCELLED
    assert core.total_kpi("reservations_cancelled") == 1


# --- observation ------------------------------------------------------------------------------


def test_observation_counts_upcoming_reservations_per_station_and_hour():
    # two stations, H = 2 hourly buckets; reservations confirmed at tick 0 arriving at
    # ticks 1 (hour 0), 5 (hour 1) and 9 (beyond 2 h: not shown), all at station 1 (closer)
    stations = [
        {"chargers": [(11.0, 1)], "x_km": 0.0},
        {"chargers": [(11.0, 3)], "x_km": 10.0},
    ]
    evs = [{"arrival": t, "departure": t + 2, "request": 0, "x_km": 10.0} for t in (1, 5, 9)]
    scenario = ref.hand_scenario(stations, evs, n_ticks=12, reservation_hours=2)
    core = ref.CoreSim(scenario)
    core.reset()
    assert_allclose(core.res[L.RS_CONNECTOR], [1, 1, 1])  # one after the other on connector 1
    assert_allclose(core.obs_view.reservations, [[0, 0], [1, 1]])  # station x hour
    core.step(np.zeros(core.n_actions))  # tick 1: the first has arrived
    assert_allclose(core.obs_view.reservations, [[0, 0], [0, 1]])
    _run(core, 4)  # tick 5: the third is 4 ticks = 1 h ahead
    assert_allclose(core.obs_view.reservations, [[0, 0], [0, 1]])


# --- the env --------------------------------------------------------------------------------


def _env_scenario(tiny_scenario, **reservation):
    """One station (30 kW grid, 0 km) with one 11 kW connector (95 %), no households, one EV
    planned at tick 2 wanting 20 kWh; the request goes out half an hour (2 ticks) ahead."""
    data = tiny_scenario(
        {
            "episode_ticks": 12,
            "households.count": 0,
            "stations[0].bess": None,
            "stations[0].chargers": [{"max_power_kw": 11.0, "connectors": 1}],
            "stations[0].reservation_price_eur_per_kwh": 0.7,
            "evs.tariff_eur_per_kwh": 0.45,
            "evs.sessions": [
                {"station": "a", "arrival_tick": 2, "departure_tick": 10, "battery_kwh": 40.0,
                 "soc_arrival": 0.5, "soc_target": 1.0, "max_ac_kw": 11.0},
            ],
        }
    )  # fmt: skip
    data["reservation"] = {
        "enabled": True, "lead_time_h": 0.5, "grace_h": 0.5, "no_show_probability": 0.0,
        "late_probability": 0.0, "max_price_eur_per_kwh": [1.0, 1.0],
        "utilisation_markup_eur_per_kwh": 0.0, "origin_spread_km": 0.0, "observation_hours": 1,
        **reservation,
    }  # fmt: skip
    return data


def test_env_late_ev_within_grace_pays_the_reservation_price(tiny_scenario):
    from evgrid_gym.envs.evgrid_env import EVGridEnv

    # late with probability 1 by at least one tick; a tiny mean delay makes it exactly one
    env = EVGridEnv(_env_scenario(tiny_scenario, late_probability=1.0, late_mean_h=1e-9))
    observation, info = env.reset(seed=1)
    assert info["reservation_requests"] == 1 and info["reservations_confirmed"] == 1
    assert env.reservations[L.RS_STATUS].tolist() == [L.RES_CONFIRMED]
    assert env.reservations[L.RS_CONNECTOR].tolist() == [0]
    assert_allclose(env.scenario.unpack(observation).reservations, [[1.0]])  # within the hour
    for _ in range(3):  # planned at 2, comes at 3 (grace 2 ticks)
        _, _, _, _, info = env.step(np.zeros(env.action_space.shape, np.float32))
    assert info["reservations_served"] == 1 and info["connector_ev"].tolist() == [0]
    assert env.reservations[L.RS_STATUS].tolist() == [L.RES_SERVED]
    _, _, _, _, info = env.step(np.ones(env.action_space.shape, np.float32))
    assert_allclose(info["ev_charge_grid_kwh"], 11.0 * 0.25)
    # per kWh into the battery (default charger efficiency 0.95), not at the 0.45 tariff
    assert_allclose(info["revenue_eur"], 0.95 * 11.0 * 0.25 * 0.7)
    assert_allclose(env.episode_plan().ev_tariff, [0.7])


def test_env_no_show_expires_after_the_grace_period(tiny_scenario):
    from evgrid_gym.envs.evgrid_env import EVGridEnv

    # grace 0.25 h = 1 tick: held through tick 3, released at tick 4
    env = EVGridEnv(_env_scenario(tiny_scenario, no_show_probability=1.0, grace_h=0.25))
    _, info = env.reset(seed=2)
    statuses, no_shows = [], []
    for _ in range(12):
        _, _, terminated, _, info = env.step(np.zeros(env.action_space.shape, np.float32))
        statuses.append(env.reservations[L.RS_STATUS, 0])
        no_shows.append(info["no_shows"])
    assert terminated
    assert statuses == [L.RES_CONFIRMED] * 3 + [L.RES_EXPIRED] * 9  # after steps into ticks 1..12
    assert no_shows == [0, 0, 0, 1] + [0] * 8
    assert env.reservations[L.RS_CONNECTOR].tolist() == [-1]
    kpis = info["episode_kpis"]
    assert kpis["no_shows"] == 1 and kpis["acceptance_rate"] == 1.0
    assert kpis["total_arrivals"] == 0 and kpis["total_reservations_served"] == 0


# --- what the EVs announce (RequestPlanner) -----------------------------------------------------


def test_request_planner_draws_the_configured_distributions(tiny_scenario):
    from evgrid_gym import load_scenario
    from evgrid_gym.reservation_requests import RequestPlanner

    reservation = {
        "enabled": True, "lead_time_h": 1.0, "origin_spread_km": 2.0,
        "max_price_eur_per_kwh": [0.5, 1.5], "no_show_probability": 0.1,
        "late_probability": 0.3, "late_mean_h": 1.0,
    }  # fmt: skip
    config = load_scenario(tiny_scenario({"reservation": reservation}))  # 15-min ticks
    station_xy_km = np.array([[0.0, 100.0, 0.0], [0.0, 0.0, 100.0]])  # far apart
    n = 60_000
    rng = np.random.default_rng(5)
    ev = np.zeros((L.N_EV_FIELDS, n))
    ev[L.EV_ARRIVAL] = rng.integers(0, 60, n)
    ev[L.EV_DEPARTURE] = 10_000.0  # never reached by a delay
    ev[L.EV_STATION] = np.tile([0.0, 1.0, 2.0, -1.0], n // 4)  # a quarter without a station
    original = ev.copy()
    ev = RequestPlanner(config, station_xy_km).plan(np.random.default_rng(6), ev)

    arrival = ev[L.EV_ARRIVAL]
    assert np.all(np.diff(arrival[np.isfinite(arrival)]) >= 0)  # sorted, no-shows (inf) last
    assert np.all(np.isinf(arrival[np.argmax(np.isinf(arrival)) :]))
    planned = ev[L.EV_PLANNED_ARRIVAL]
    assert sorted(planned) == sorted(original[L.EV_ARRIVAL])
    assert_allclose(ev[L.EV_REQUEST], np.maximum(planned - 4, 0))  # 1 h ahead, not before 0
    # origin: the nearest station (the one the EV belongs or was sent to) plus N(0, 2 km) per axis
    xy = ev[[L.EV_X_KM, L.EV_Y_KM]]
    nearest = np.argmin(((xy[:, None, :] - station_xy_km[:, :, None]) ** 2).sum(axis=0), axis=0)
    offset = xy - station_xy_km[:, nearest]
    assert np.abs(offset.mean(axis=1)).max() < 0.03
    assert_allclose(offset.std(axis=1), 2.0, rtol=0.02)
    assert abs(np.corrcoef(offset)[0, 1]) < 0.02
    assert np.array_equal(nearest[ev[L.EV_STATION] >= 0], ev[L.EV_STATION][ev[L.EV_STATION] >= 0])
    sent = np.bincount(nearest[ev[L.EV_STATION] < 0], minlength=3) / (n / 4)
    assert_allclose(sent, 1 / 3, atol=0.015)  # EVs without a station: any, equally likely
    # price limit uniform in [0.5, 1.5]
    price = ev[L.EV_MAX_PRICE]
    assert price.min() >= 0.5 and price.max() <= 1.5
    assert_allclose([price.mean(), price.var()], [1.0, 1 / 12], rtol=0.02)
    # no-shows 10 %; of the others 30 % late by ceil(Exp(mean 4 ticks)) >= 1 tick, a geometric
    # number of ticks with mean 1 / (1 - exp(-1/4))
    came = np.isfinite(arrival)
    assert_allclose(1 - came.mean(), 0.1, atol=0.006)
    delay = arrival[came] - planned[came]
    assert set(np.unique(delay[delay <= 0])) == {0.0}
    late = delay > 0
    assert_allclose(late.mean(), 0.3, atol=0.008)
    assert_allclose(delay[late].mean(), 1 / (1 - np.exp(-0.25)), rtol=0.03)
