"""Projection kernel (core/projection.py) against the reference and hand-worked cases."""

import numpy as np
import pytest
import reference as ref
from numpy.testing import assert_allclose

from evgrid_gym.core.projection import project_power, scratch_size

TOL = 1e-9


def _project(conn_kw, low, high, connector_charger, charger_max, charger_station, bess_kw=None,
             bess_low=None, bess_high=None, grid=None, household=0.0, feeder=1e9,
             soft=False, fixed=None):  # fmt: skip
    """Calls the kernel on copies; returns ``(conn_kw, bess_kw, station_net_kw, overload_kw)``
    with the overload of stations and feeder together."""
    n_st = int(max(charger_station)) + 1
    zeros = np.zeros(n_st)
    conn = np.array(conn_kw, dtype=float)
    bess = np.array(zeros if bess_kw is None else bess_kw, dtype=float)
    net, station_overload = np.full(n_st, np.nan), np.full(n_st, np.nan)
    feeder_overload = project_power(
        conn,
        np.array(low, dtype=float),
        np.array(high, dtype=float),
        np.array(connector_charger, dtype=np.int64),
        np.array(charger_max, dtype=float),
        np.array(charger_station, dtype=np.int64),
        bess,
        np.array(zeros if bess_low is None else bess_low, dtype=float),
        np.array(zeros if bess_high is None else bess_high, dtype=float),
        np.array(np.full(n_st, 1e9) if grid is None else grid, dtype=float),
        np.array(zeros if fixed is None else fixed, dtype=float),
        float(household),
        float(feeder),
        soft,
        net,
        station_overload,
        np.full(scratch_size(len(charger_max), n_st), np.nan),
    )
    return conn, bess, net, station_overload.sum() + feeder_overload


# --- hand-worked cases -----------------------------------------------------------------------


def test_battery_limits_clip():
    conn, _, _, overload = _project([50.0, -5.0, 3.0], [0.0, 0.0, -2.0], [7.0, 11.0, 11.0],
                                    [0, 1, 2], [50.0, 50.0, 50.0], [0, 0, 0])  # fmt: skip
    assert_allclose(conn, [7.0, 0.0, 3.0])
    assert overload == 0.0


def test_charger_split_equally_between_two_connectors():
    # one 11 kW charger, two connectors both asking for its full power -> 5.5 kW each
    conn, _, net, _ = _project([11.0, 11.0], [0.0, 0.0], [11.0, 11.0], [0, 0], [11.0], [0])
    assert_allclose(conn, [5.5, 5.5])
    assert_allclose(net, [11.0])


def test_charger_shares_absolute_power_with_v2g():
    # 20 kW charging and 10 kW V2G on a 22 kW charger: |p| sums to 30 -> factor 22 / 30
    conn, _, net, _ = _project([20.0, -10.0], [-11.0, -11.0], [22.0, 22.0], [0, 0], [22.0], [0])
    assert_allclose(conn, [20.0 * 22 / 30, -10.0 * 22 / 30])
    assert_allclose(net, [10.0 * 22 / 30])


def test_station_grid_capacity_scales_consumers():
    conn, _, net, overload = _project([11.0, 11.0], [0, 0], [11, 11], [0, 1], [11.0, 11.0],
                                      [0, 0], grid=[15.0])  # fmt: skip
    assert_allclose(conn, [7.5, 7.5])
    assert_allclose(net, [15.0])
    assert overload == 0.0


def test_bess_discharge_lets_evs_draw_more_than_grid():
    # 22 kW of EVs behind a 15 kW grid connection, BESS gives 10 kW: nothing is cut
    conn, bess, net, _ = _project([11.0, 11.0], [0, 0], [11, 11], [0, 1], [11.0, 11.0], [0, 0],
                                  bess_kw=[-10.0], bess_low=[-50.0], bess_high=[50.0],
                                  grid=[15.0])  # fmt: skip
    assert_allclose(conn, [11.0, 11.0])
    assert_allclose(bess, [-10.0])
    assert_allclose(net, [12.0])
    # with only 5 kW from the BESS the EVs share 15 + 5 = 20 kW
    conn, bess, net, _ = _project([11.0, 11.0], [0, 0], [11, 11], [0, 1], [11.0, 11.0], [0, 0],
                                  bess_kw=[-5.0], bess_low=[-50.0], bess_high=[50.0],
                                  grid=[15.0])  # fmt: skip
    assert_allclose(conn, [10.0, 10.0])
    assert_allclose(bess, [-5.0])
    assert_allclose(net, [15.0])


def test_station_export_limit_scales_producers():
    # V2G 20 kW + BESS 30 kW discharge through a 25 kW connection: producers halved
    conn, bess, net, _ = _project([-20.0], [-22.0], [22.0], [0], [22.0], [0], bess_kw=[-30.0],
                                  bess_low=[-50.0], bess_high=[50.0], grid=[25.0])  # fmt: skip
    assert_allclose(conn, [-10.0])
    assert_allclose(bess, [-15.0])
    assert_allclose(net, [-25.0])


def test_feeder_common_factor_on_consumers():
    # households 80 kW + two stations drawing 20 kW each on a 100 kW feeder: factor 0.5
    conn, _, net, overload = _project([20.0, 20.0], [0, 0], [22, 22], [0, 1], [22.0, 22.0],
                                      [0, 1], household=80.0, feeder=100.0)  # fmt: skip
    assert_allclose(conn, [10.0, 10.0])
    assert_allclose(net, [10.0, 10.0])
    assert overload == 0.0


def test_households_alone_above_feeder_is_overload():
    conn, bess, net, overload = _project([20.0, 20.0], [0, 0], [22, 22], [0, 1], [22.0, 22.0],
                                         [0, 1], bess_kw=[5.0, 0.0], bess_low=[-9.0, 0.0],
                                         bess_high=[9.0, 0.0], household=120.0,
                                         feeder=100.0)  # fmt: skip
    assert_allclose(conn, [0.0, 0.0])
    assert_allclose(bess, [0.0, 0.0])
    assert_allclose(net, [0.0, 0.0])
    assert_allclose(overload, 20.0)


def test_feeder_never_pushes_a_station_over_its_export_limit():
    # station 0: EV 70 kW fed by its BESS (50 kW) and 20 kW of grid (its capacity).
    # Households alone (100 kW) exceed the 70 kW feeder: EV charging may only drop to 30 kW,
    # or the BESS would export 30 kW through a 20 kW connection.
    conn, bess, net, overload = _project([70.0], [0.0], [100.0], [0], [100.0], [0],
                                         bess_kw=[-50.0], bess_low=[-50.0], bess_high=[50.0],
                                         grid=[20.0], household=100.0, feeder=70.0)  # fmt: skip
    assert_allclose(conn, [30.0])
    assert_allclose(bess, [-50.0])
    assert_allclose(net, [-20.0])
    assert_allclose(overload, 100.0 - 20.0 - 70.0)


def test_feeder_floor_at_one_station_moves_the_cut_to_the_others():
    # station 0 as above (floor 30 kW of its 70 kW), station 1 draws 100 kW; feeder 10 kW.
    # While station 0 sits on its floor (net -20), station 1 gets f * 100 with
    # -20 + 100 f = 10 -> f = 0.3 (< 30/70, so station 0 indeed stays on its floor).
    conn, bess, net, overload = _project([70.0, 100.0], [0.0, 0.0], [100.0, 100.0], [0, 1],
                                         [100.0, 100.0], [0, 1], bess_kw=[-50.0, 0.0],
                                         bess_low=[-50.0, 0.0], bess_high=[50.0, 0.0],
                                         grid=[20.0, 100.0], feeder=10.0)  # fmt: skip
    assert_allclose(conn, [30.0, 30.0])
    assert_allclose(bess, [-50.0, 0.0])
    assert_allclose(net, [-20.0, 30.0])
    assert overload == 0.0


def test_soft_mode_reports_overload_and_keeps_powers():
    # station: 22 kW over a 15 kW connection (7 kW over); feeder: 50 + 22 - 60 = 12 kW over
    conn, _, net, overload = _project([11.0, 11.0], [0, 0], [11, 11], [0, 1], [11.0, 11.0],
                                      [0, 0], grid=[15.0], household=50.0, feeder=60.0,
                                      soft=True)  # fmt: skip
    assert_allclose(conn, [11.0, 11.0])
    assert_allclose(net, [22.0])
    assert_allclose(overload, 7.0 + 12.0)
    # the charger limit is physical: always enforced, also in soft mode
    conn, _, _, overload = _project([11.0, 11.0], [0, 0], [11, 11], [0, 0], [11.0], [0],
                                    soft=True)  # fmt: skip
    assert_allclose(conn, [5.5, 5.5])
    assert overload == 0.0


def test_soft_mode_books_each_stations_overload_apart_from_the_feeders():
    # station 0 draws 22 kW over 15 kW (7 over), station 1 feeds back 10 kW by V2G over 5 kW
    # (5 over); the feeder carries 50 + 22 - 10 = 62 kW over 60 kW (2 over)
    net, station_overload = np.full(2, np.nan), np.full(2, np.nan)
    feeder_overload = project_power(
        np.array([11.0, 11.0, -10.0]), np.array([0.0, 0.0, -10.0]), np.full(3, 11.0),
        np.array([0, 0, 1]), np.array([22.0, 11.0]), np.array([0, 1]), np.zeros(2),
        np.zeros(2), np.zeros(2), np.array([15.0, 5.0]), np.zeros(2), 50.0, 60.0, True, net,
        station_overload, np.full(scratch_size(2, 2), np.nan),
    )  # fmt: skip
    assert_allclose(net, [22.0, -10.0])
    assert_allclose(station_overload, [7.0, 5.0])
    assert_allclose(feeder_overload, 2.0)


# --- random cases against the reference, and the limits as properties ------------------------


def _random_case(rng):
    n_st = int(rng.integers(1, 4))
    n_ch = int(rng.integers(n_st, 3 * n_st + 1))
    charger_station = np.concatenate([np.arange(n_st), rng.integers(0, n_st, n_ch - n_st)])
    connector_charger = np.concatenate(
        [np.arange(n_ch), rng.integers(0, n_ch, int(rng.integers(0, 2 * n_ch + 1)))]
    )
    n_c = connector_charger.size
    charger_max = rng.choice([7.4, 11.0, 22.0, 50.0], n_ch)
    high = np.where(rng.random(n_c) < 0.2, 0.0, rng.uniform(0.0, 60.0, n_c))
    low = np.where(rng.random(n_c) < 0.5, 0.0, -rng.uniform(0.0, 20.0, n_c))
    bess_high = np.where(rng.random(n_st) < 0.3, 0.0, rng.uniform(0.0, 60.0, n_st))
    bess_low = -np.where(rng.random(n_st) < 0.3, 0.0, rng.uniform(0.0, 60.0, n_st))
    rated = np.bincount(charger_station, weights=charger_max, minlength=n_st)
    case = {
        "conn_kw": rng.uniform(-1.0, 1.0, n_c) * charger_max[connector_charger] * 1.2,
        "conn_low_kw": low,
        "conn_high_kw": high,
        "connector_charger": connector_charger.astype(np.int64),
        "charger_max_kw": charger_max,
        "charger_station": charger_station.astype(np.int64),
        "bess_kw": rng.uniform(-70.0, 70.0, n_st),
        "bess_low_kw": bess_low,
        "bess_high_kw": bess_high,
        "station_grid_kw": rated * rng.uniform(0.05, 1.2, n_st),
        "station_fixed": (rng.random(n_st) < 0.2).astype(float),
        "household_kw": rng.choice([0.0, rng.uniform(0.0, 100.0)]),
        "feeder_kw": rng.uniform(1.0, 1.5 * rated.sum() + 100.0),
        "soft": bool(rng.random() < 0.3),
    }
    if rng.random() < 0.5:  # requests at the limits exactly
        case["conn_kw"] = np.where(rng.random(n_c) < 0.5, high, low)
    return case


def _run_kernel(case):
    conn = case["conn_kw"].copy()
    bess = case["bess_kw"].copy()
    net, station_overload = np.full(bess.size, np.nan), np.full(bess.size, np.nan)
    args = dict(case, conn_kw=conn, bess_kw=bess)
    scratch = np.full(scratch_size(case["charger_max_kw"].size, bess.size), np.nan)
    feeder_overload = project_power(
        **args, station_net_kw=net, station_overload_kw=station_overload, scratch=scratch
    )
    return conn, bess, net, station_overload, feeder_overload


def test_matches_reference():
    rng = np.random.default_rng(11)
    for _ in range(1500):
        case = _random_case(rng)
        got = _run_kernel(case)
        want = ref.project(
            **case | {"station_fixed": set(np.flatnonzero(case["station_fixed"]).tolist())}
        )
        scale = 1.0 + case["feeder_kw"] + case["household_kw"]
        for g, w in zip(got, want, strict=True):
            assert_allclose(g, w, rtol=TOL, atol=TOL * scale)


def test_limits_hold():
    rng = np.random.default_rng(12)
    for _ in range(1500):
        case = _random_case(rng)
        conn, bess, net, station_overload, feeder_overload = _run_kernel(case)
        eps = TOL * (1.0 + case["feeder_kw"] + case["household_kw"])
        # 1. battery range, and every power only moves towards zero from its clipped request
        clipped = np.clip(case["conn_kw"], case["conn_low_kw"], case["conn_high_kw"])
        assert np.all(conn >= case["conn_low_kw"] - eps)
        assert np.all(conn <= case["conn_high_kw"] + eps)
        assert np.all(conn * clipped >= 0.0) and np.all(np.abs(conn) <= np.abs(clipped) + eps)
        bess_clipped = np.clip(case["bess_kw"], case["bess_low_kw"], case["bess_high_kw"])
        assert np.all(bess * bess_clipped >= 0.0)
        assert np.all(np.abs(bess) <= np.abs(bess_clipped) + eps)
        # 2. chargers
        drawn = np.bincount(
            case["connector_charger"], weights=np.abs(conn), minlength=case["charger_max_kw"].size
        )
        assert np.all(drawn <= case["charger_max_kw"] + eps)
        # the reported station nets are the sums of the entries
        conn_station = case["charger_station"][case["connector_charger"]]
        sums = np.bincount(conn_station, weights=conn, minlength=bess.size) + bess
        assert_allclose(net, sums, rtol=TOL, atol=eps)
        feeder_excess = case["household_kw"] + net.sum() - case["feeder_kw"]
        station_excess = np.maximum(np.abs(net) - case["station_grid_kw"], 0.0)
        assert feeder_overload >= 0.0
        if case["soft"]:
            assert_allclose(station_overload, station_excess, atol=eps)
            assert_allclose(feeder_overload, max(feeder_excess, 0.0), atol=eps)
        else:
            # 3. stations, 4. feeder: only households alone may leave an overload
            assert np.all(station_excess <= eps)
            np.testing.assert_array_equal(station_overload, 0.0)
            assert_allclose(feeder_overload, max(feeder_excess, 0.0), atol=eps)
            if feeder_overload > eps:
                floor = np.maximum(-net, 0.0) >= case["station_grid_kw"] - eps
                consuming = np.bincount(conn_station, weights=np.maximum(conn, 0.0),
                                        minlength=bess.size) + np.maximum(bess, 0.0)  # fmt: skip
                fixed = case["station_fixed"] > 0.0
                assert np.all((consuming <= eps) | floor | fixed)


@pytest.mark.parametrize("soft", [False, True])
def test_within_limits_is_unchanged(soft):
    """Requests that meet every limit pass through untouched (no needless curtailment)."""
    conn, bess, net, overload = _project([5.0, -3.0, 7.0], [-5.0, -5.0, 0.0], [11.0, 11.0, 11.0],
                                         [0, 0, 1], [11.0, 11.0], [0, 1], bess_kw=[2.0, -4.0],
                                         bess_low=[-10.0, -10.0], bess_high=[10.0, 10.0],
                                         grid=[10.0, 10.0], household=30.0, feeder=40.0,
                                         soft=soft)  # fmt: skip
    assert_allclose(conn, [5.0, -3.0, 7.0])
    assert_allclose(bess, [2.0, -4.0])
    assert_allclose(net, [4.0, 3.0])
    assert overload == 0.0


def test_feeder_cannot_curtail_a_station_whose_link_is_down():
    """Station 0 is out of reach (its link is down): it keeps its 10 kW; the feeder's cut of
    8 kW (households 20 + 10 + 18 kW against 40 kW) falls on station 1 alone."""
    conn, _, net, overload = _project([10.0, 18.0], [0.0, 0.0], [11.0, 22.0], [0, 1],
                                      [11.0, 22.0], [0, 1], household=20.0, feeder=40.0,
                                      fixed=[1.0, 0.0])  # fmt: skip
    assert_allclose(conn, [10.0, 10.0])
    assert_allclose(net, [10.0, 10.0])
    assert overload == 0.0
    # households and the unreachable station alone exceed the feeder: the rest is cut to zero
    conn, _, _, overload = _project([10.0, 18.0], [0.0, 0.0], [11.0, 22.0], [0, 1],
                                    [11.0, 22.0], [0, 1], household=35.0, feeder=40.0,
                                    fixed=[1.0, 0.0])  # fmt: skip
    assert_allclose(conn, [10.0, 0.0])
    assert_allclose(overload, 5.0)
