"""LinDistFlow kernels (core/network.py) against hand-worked cases and the reference."""

import math

import numpy as np
import pytest
import reference_network as ref
from numpy.testing import assert_allclose

from evgrid_gym.core import layout as L
from evgrid_gym.core import network as kernels
from evgrid_gym.grid import NetworkConfig, network_arrays
from evgrid_gym.grid.arrays import observation_bounds

THREE_BUS = {
    "name": "three buses",
    "nominal_voltage_kv": 0.4,
    "buses": ["end", "mv", "busbar"],
    "transformer": {"name": "t", "hv_bus": "mv", "lv_bus": "busbar", "rated_kva": 250.0,
                    "vk_percent": 4.0, "vkr_percent": 1.0},
    "lines": [{"name": "cable", "from_bus": "end", "to_bus": "busbar", "r_ohm": 0.05,
               "x_ohm": 0.02, "max_current_a": 100.0}],
}  # fmt: skip


def _network(description, **placement):
    config = NetworkConfig.model_validate({"description": description, **placement})
    return config, network_arrays(config, list(placement.get("stations", {})))


def _flow(arrays, p, q):
    n = arrays.n_buses
    v, branch_p, branch_q, loading = (np.full(n, np.nan) for _ in range(4))
    kernels.power_flow(arrays.bus_parent, arrays.branch_f, arrays.net_cfg, p, q, v, branch_p,
                       branch_q, loading)  # fmt: skip
    return v, branch_p, branch_q, loading


def _random_powers(rng, n, export=False):
    p = np.zeros(n)
    p[1:] = rng.uniform(-30.0 if export else 0.0, 40.0, n - 1)
    q = p * rng.uniform(0.0, 0.5, n)
    return p, q


def _as_dicts(arrays, p, q):
    return dict(zip(arrays.bus_names, p, strict=True)), dict(zip(arrays.bus_names, q, strict=True))


# --- hand-worked ---------------------------------------------------------------------------


def test_three_bus_by_hand():
    # transformer 250 kVA, 0.4 kV: Z_base = 0.4^2 * 1000 / 250 = 0.64 ohm, r = 1 % of it =
    # 0.0064 ohm, |z| = 4 % = 0.0256 ohm, x = sqrt(0.0256^2 - 0.0064^2) = 0.024787 ohm.
    # 50 kW + 10 kvar at the cable's end; 2 / (1000 * 0.4^2) = 1 / 80 per kW ohm:
    # v_busbar = 1 - (0.0064 * 50 + 0.024787 * 10) / 80 = 0.9929016
    # v_end = v_busbar - (0.05 * 50 + 0.02 * 10) / 80 = 0.9591516
    # cable: S = sqrt(50^2 + 10^2) = 50.990 kVA, rated sqrt(3) * 0.4 * 100 = 69.282 kVA,
    # loading = S / (69.282 * sqrt(0.9591516)) = 75.15 %
    _, arrays = _network(THREE_BUS)
    assert arrays.bus_names == ("mv", "busbar", "end")
    p = np.array([0.0, 0.0, 50.0])
    q = np.array([0.0, 0.0, 10.0])
    v, branch_p, branch_q, loading = _flow(arrays, p, q)
    x_t = math.sqrt(0.0256**2 - 0.0064**2)
    assert_allclose(x_t, 0.0247871, atol=1e-7)
    assert_allclose(v**2, [1.0, 0.9929016, 0.9591516], atol=1e-7)
    assert_allclose(branch_p, [50.0, 50.0, 50.0])
    assert_allclose(branch_q, [10.0, 10.0, 10.0])
    assert_allclose(loading[2], 100.0 * 50.990195 / (69.282032 * math.sqrt(0.9591516)), rtol=1e-6)
    assert_allclose(loading[1], 100.0 * 50.990195 / (250.0 * math.sqrt(0.9591516 + 0.0337500)),
                    rtol=1e-6)  # fmt: skip
    # within the default 0.9..1.1 pu and every rating: no overload, no deviation
    v_min, v_max, line_max, transformer, overload_kw, deviation = kernels.network_kpis(
        arrays.net_cfg, v, branch_p, loading
    )
    assert_allclose([v_min, v_max], [math.sqrt(0.9591516), math.sqrt(0.9929016)], atol=1e-7)
    assert (line_max, transformer) == (loading[2], loading[1])
    assert (overload_kw, deviation) == (0.0, 0.0)
    # with a 0.98 pu lower limit the end bus (0.979363 pu) deviates by 0.000637 pu
    net_cfg = arrays.net_cfg.copy()
    net_cfg[L.NET_V_MIN_PU] = 0.98
    assert_allclose(kernels.network_kpis(net_cfg, v, branch_p, loading)[5], 0.000637, atol=1e-6)


def test_overloaded_cable_by_hand():
    # 100 kW + 20 kvar at the end (THREE_BUS): v_end^2 = 1 - (0.0064 * 100 + 0.024787 * 20) / 80
    # - (0.05 * 100 + 0.02 * 20) / 80 = 0.9183033, S = sqrt(100^2 + 20^2) = 101.98039 kVA;
    # the cable carries 69.282 * sqrt(0.9183033) = 66.3916 kVA at its rated current, so
    # loading = 153.60 % and the overload is 100 kW * (1 - 66.3916 / 101.98039) = 34.897 kW
    _, arrays = _network(THREE_BUS)
    v, branch_p, _, loading = _flow(arrays, np.array([0.0, 0.0, 100.0]), np.array([0, 0, 20.0]))
    assert_allclose(v[2] ** 2, 0.9183033, atol=1e-7)
    assert_allclose(loading[2], 153.60, atol=0.01)
    overload_kw = kernels.network_kpis(arrays.net_cfg, v, branch_p, loading)[4]
    assert_allclose(overload_kw, 34.897, atol=1e-3)  # the transformer is at 42 %: not counted


def test_bus_powers_use_each_power_factor():
    _, arrays = _network(
        THREE_BUS, households=[{"bus": "end", "count": 3}], turbines=["mv"],
        stations={"s": "end", "u": "busbar"}, household_power_factor=0.8,
        station_power_factor=0.6,
    )  # fmt: skip
    assert list(arrays.station_bus) == [2, 1]
    assert_allclose(arrays.bus_f[L.BUS_HOUSEHOLD_SHARE], [0.0, 0.0, 1.0])
    assert_allclose(arrays.bus_f[L.BUS_WIND_SHARE], [1.0, 0.0, 0.0])
    p, q = np.full(3, np.nan), np.full(3, np.nan)
    kernels.community_powers(arrays.bus_f, arrays.net_cfg, 10.0, 30.0, 0.0, p, q)
    # households tan(acos(0.8)) = 0.75, turbine unity
    assert_allclose(p, [-30.0, 0.0, 10.0])
    assert_allclose(q, [0.0, 0.0, 7.5])
    station_f = np.zeros((L.N_STATION_FIELDS, 2))
    station_f[L.ST_BUS] = arrays.station_bus
    # station s (link up) at half its 20 kW, station u (link down) at its 6 kW;
    # stations tan(acos(0.6)) = 4/3
    kernels.add_station_powers(station_f, arrays.net_cfg, np.array([20.0, 6.0]),
                               np.array([0.0, 1.0]), 0.5, 1.0, p, q)  # fmt: skip
    assert_allclose(p, [-30.0, 6.0, 20.0])
    assert_allclose(q, [0.0, 8.0, 7.5 + 10.0 * 4.0 / 3.0])


# --- against the reference ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_power_flow_matches_reference_on_random_trees(seed):
    rng = np.random.default_rng(seed)
    config, arrays = _network(ref.random_description(rng, int(rng.integers(2, 40))))
    assert all(arrays.bus_parent[j] < j for j in range(1, arrays.n_buses))
    p, q = _random_powers(rng, arrays.n_buses, export=seed % 2 == 1)
    v, branch_p, branch_q, loading = _flow(arrays, p, q)
    ref_v, ref_flow, ref_loading = ref.power_flow(config.description, *_as_dicts(arrays, p, q))
    assert_allclose(v, [ref_v[b] for b in arrays.bus_names], rtol=1e-12)
    names = arrays.branch_names[1:]
    assert_allclose(branch_p[1:], [ref_flow[n][0] for n in names], rtol=1e-12, atol=1e-12)
    assert_allclose(branch_q[1:], [ref_flow[n][1] for n in names], rtol=1e-12, atol=1e-12)
    assert_allclose(loading[1:], [ref_loading[n] for n in names], rtol=1e-12, atol=1e-12)
    assert_allclose(branch_p[0], p.sum())


def test_power_flow_matches_reference_on_the_bundled_network():
    rng = np.random.default_rng(7)
    config, arrays = _network("simbench_lv_semiurb4")
    assert arrays.n_buses == 44
    for _ in range(5):
        p, q = _random_powers(rng, arrays.n_buses, export=True)
        v, _, _, loading = _flow(arrays, p, q)
        ref_v, _, ref_loading = ref.power_flow(config.description, *_as_dicts(arrays, p, q))
        assert_allclose(v, [ref_v[b] for b in arrays.bus_names], rtol=1e-12)
        assert_allclose(loading[1:], [ref_loading[n] for n in arrays.branch_names[1:]],
                        rtol=1e-12)  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_sensitivity_matrices_give_the_same_flows_and_voltages(seed):
    rng = np.random.default_rng(100 + seed)
    _, arrays = _network(ref.random_description(rng, 30))
    p, q = _random_powers(rng, arrays.n_buses, export=True)
    v, branch_p, branch_q, _ = _flow(arrays, p, q)
    assert_allclose(arrays.downstream @ p, branch_p, rtol=1e-12, atol=1e-12)
    assert_allclose(arrays.downstream @ q, branch_q, rtol=1e-12, atol=1e-12)
    slack2 = arrays.net_cfg[L.NET_SLACK_PU] ** 2
    assert_allclose(slack2 + arrays.v2_per_kw @ p + arrays.v2_per_kvar @ q, v**2, rtol=1e-12)
    assert_allclose(arrays.v2_per_kw, arrays.v2_per_kw.T)
    assert (arrays.v2_per_kw <= 0.0).all()


@pytest.mark.parametrize("seed", range(10))
def test_headroom_matches_reference(seed):
    rng = np.random.default_rng(200 + seed)
    config, arrays = _network(ref.random_description(rng, 25))
    p, q = _random_powers(rng, arrays.n_buses, export=True)
    v, branch_p, branch_q, _ = _flow(arrays, p, q)
    for bus in range(1, arrays.n_buses):
        got = kernels.upstream_headroom_kva(arrays.bus_parent, arrays.branch_f, v, branch_p,
                                            branch_q, bus)  # fmt: skip
        expected = ref.upstream_headroom_kva(config.description, *_as_dicts(arrays, p, q),
                                             arrays.bus_names[bus])  # fmt: skip
        assert_allclose(got, expected, rtol=1e-12)


# --- hard limits: the largest common scaling of the stations ---------------------------------


def _largest_scale(arrays, base, step):
    work = np.full(kernels.workspace_size(arrays.n_buses), np.nan)
    return kernels.largest_scale(arrays.bus_parent, arrays.branch_f, arrays.net_cfg, *base,
                                 *step, work)  # fmt: skip


def _scale_case(rng, arrays):
    """Households everywhere, 1-3 stations charging or exporting hard enough to hit limits."""
    n = arrays.n_buses
    base_p = np.zeros(n)
    base_p[2:] = rng.uniform(-5.0, 25.0, n - 2) * rng.uniform(0.0, 1.5)
    base_q = 0.4 * np.abs(base_p)
    step_p = np.zeros(n)
    stations = rng.choice(np.arange(1, n), size=int(rng.integers(1, 4)), replace=False)
    step_p[stations] = rng.uniform(-400.0, 600.0, stations.size)
    step_q = step_p * rng.uniform(0.0, 0.3)
    return (base_p, base_q), (step_p, step_q)


@pytest.mark.parametrize("seed", range(25))
def test_largest_scale_matches_reference(seed):
    rng = np.random.default_rng(300 + seed)
    config, arrays = _network(ref.random_description(rng, int(rng.integers(3, 20))),
                              voltage_min_pu=0.94, voltage_max_pu=1.06)  # fmt: skip
    base, step = _scale_case(rng, arrays)
    alpha = _largest_scale(arrays, base, step)
    d = config.description
    as_dicts = [_as_dicts(arrays, *pair) for pair in (base, step)]
    expected = ref.largest_scale(d, *as_dicts, 0.94, 1.06)
    assert_allclose(alpha, expected, atol=1e-6)
    if 0.0 < alpha:  # alpha meets every limit; a little more breaks one
        p, q = (b + alpha * s for b, s in zip(base, step, strict=True))
        assert ref.within_limits(d, *_as_dicts(arrays, p, q), 0.94, 1.06, tol=1e-7)
    if 0.0 < alpha < 1.0:
        p, q = (b + (alpha + 1e-6) * s for b, s in zip(base, step, strict=True))
        assert not ref.within_limits(d, *_as_dicts(arrays, p, q), 0.94, 1.06, tol=0.0)


def test_largest_scale_cases_by_hand():
    # the cable of THREE_BUS: 69.282 kVA at 1 pu; the transformer 250 kVA
    _, arrays = _network(THREE_BUS, voltage_min_pu=0.9, voltage_max_pu=1.1)
    nothing = (np.zeros(3), np.zeros(3))
    small = (np.array([0.0, 0.0, 10.0]), np.zeros(3))
    assert _largest_scale(arrays, nothing, small) == 1.0
    # 200 kW at the end: the current limit binds. With a P (no Q), S = a * 200 and
    # v_end = 1 - a * 200 * (0.0064 + 0.05) / 80, the limit (a 200)^2 <= 69.282^2 v_end
    # solves to a = 0.33698 (the positive root of 40000 a^2 + 67.7 a ... ; see below)
    alpha = _largest_scale(arrays, nothing, (np.array([0.0, 0.0, 200.0]), np.zeros(3)))
    rated2 = (math.sqrt(3.0) * 0.4 * 100.0) ** 2
    a, b, c = 200.0**2, rated2 * 200.0 * 0.0564 / 80.0, -rated2
    assert_allclose(alpha, (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a), rtol=1e-12)
    # households alone already overload the cable: no scaling helps -> 0
    overloaded = (np.array([0.0, 0.0, 100.0]), np.zeros(3))
    assert _largest_scale(arrays, overloaded, small) == 0.0
    # ... unless the station exports (V2G): 40 kW back brings the cable within its rating
    alpha = _largest_scale(arrays, overloaded, (np.array([0.0, 0.0, -40.0]), np.zeros(3)))
    assert alpha == 1.0


# --- the bounds of the observation's network blocks -----------------------------------------


def _grid_state(arrays, household_kw, wind_kw, pv_kw, station_kw):
    """``station_grid_state``: each station's bus voltage and upstream headroom."""
    n_st = station_kw.shape[0]
    station_f = np.zeros((L.N_STATION_FIELDS, n_st))
    station_f[L.ST_BUS] = arrays.station_bus
    voltage_pu, headroom_kva = np.full(n_st, np.nan), np.full(n_st, np.nan)
    work = np.full(kernels.workspace_size(arrays.n_buses), np.nan)
    kernels.station_grid_state(
        arrays.bus_parent, arrays.branch_f, arrays.bus_f, arrays.net_cfg, station_f,
        household_kw, wind_kw, pv_kw, station_kw, np.zeros(n_st), voltage_pu, headroom_kva,
        work,
    )  # fmt: skip
    return voltage_pu, headroom_kva


@pytest.mark.parametrize("seed", range(6))
def test_observation_bounds_hold_and_are_reached(seed):
    """The voltage bounds are the voltages of the extreme injections (all drawing their most,
    resp. feeding their most); the lower headroom bound is reached with only the stations
    drawing; random injections within the ranges stay within every bound."""
    rng = np.random.default_rng(400 + seed)
    description = ref.random_description(rng, int(rng.integers(3, 15)))
    hv = description["transformer"]["hv_bus"]
    lv = [b for b in description["buses"] if b != hv]
    _, arrays = _network(
        description, households=[{"bus": str(b), "count": 1} for b in rng.choice(lv, 2)],
        turbines=[str(rng.choice(description["buses"]))], pv=str(rng.choice(lv)),
        stations={f"s{i}": str(rng.choice(lv)) for i in range(3)},
        household_power_factor=0.9, station_power_factor=0.95,
    )  # fmt: skip
    household_kw, wind_kw, pv_kw = 60.0, 80.0, 30.0
    station_kw = rng.uniform(20.0, 120.0, 3)
    bounds = observation_bounds(arrays, household_kw, wind_kw, pv_kw, station_kw)
    v_low, _ = _grid_state(arrays, household_kw, 0.0, 0.0, station_kw)
    v_high, _ = _grid_state(arrays, 0.0, wind_kw, pv_kw, -station_kw)
    assert_allclose(v_low, bounds["bus_voltage_low_pu"], rtol=1e-12)
    assert_allclose(v_high, bounds["bus_voltage_high_pu"], rtol=1e-12)
    alone = observation_bounds(arrays, 0.0, 0.0, 0.0, station_kw)
    _, headroom = _grid_state(arrays, 0.0, 0.0, 0.0, station_kw)
    assert_allclose(headroom, alone["grid_headroom_low_kva"], rtol=1e-12)
    for _ in range(200):
        voltage, headroom = _grid_state(
            arrays, rng.uniform(0.0, household_kw), rng.uniform(0.0, wind_kw),
            rng.uniform(0.0, pv_kw), rng.uniform(-station_kw, station_kw),
        )  # fmt: skip
        assert (bounds["bus_voltage_low_pu"] <= voltage).all()
        assert (voltage <= bounds["bus_voltage_high_pu"]).all()
        assert (bounds["grid_headroom_low_kva"] <= headroom).all()
        assert (headroom <= bounds["grid_headroom_high_kva"]).all()
