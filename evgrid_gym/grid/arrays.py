"""A network with its community as the packed arrays of :mod:`evgrid_gym.core.network`.

Built once per scenario: the tree in topological order, branch impedances and ratings, the
community's share on every bus (households, wind, PV), each station's bus, the power factors,
and the linear sensitivities an optimisation model needs (flows and squared voltages as
matrices of the per-bus powers, exactly what the kernels compute bus by bus).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evgrid_gym.arrays import readonly
from evgrid_gym.core import layout as L
from evgrid_gym.grid.config import NetworkConfig
from evgrid_gym.grid.description import NetworkDescription, tree_order


@dataclass(frozen=True)
class NetworkArrays:
    """Static arrays of one network and community (B buses, S stations).

    The arrays are read-only views (:func:`evgrid_gym.arrays.readonly`) of arrays that
    :func:`network_arrays` builds and keeps no writable reference to.

    Attributes:
        bus_names: bus names in kernel order (``core.layout``, section "network").
        branch_names: the name of the branch feeding each bus ("" for bus 0).
        bus_parent: upstream bus of each bus, int64, shape (B,).
        branch_f: branch parameters, shape (N_BRANCH_FIELDS, B).
        bus_f: the community's loads on each bus, shape (N_BUS_FIELDS, B): the share of the
            household load (by household counts), of the wind output (by the turbine
            entries' installed power, ``turbine_kw``) and of the PV output.
        net_cfg: scalar parameters, shape (N_NET_CFG,).
        station_bus: the bus of each station in scenario order, int64, shape (S,).
        downstream: ``downstream[j, k]`` is 1.0 when branch ``j`` carries what bus ``k``
            draws (``k`` at or below bus ``j``), else 0.0, shape (B, B); row 0 is all ones.
            Branch flows are ``downstream @ bus_p_kw``; column ``k`` marks the branches
            between the slack and bus ``k``.
        v2_per_kw, v2_per_kvar: change of each bus's squared voltage (pu^2) per kW and per
            kvar drawn at each bus, shape (B, B): under LinDistFlow the squared voltages are
            ``slack^2 + v2_per_kw @ bus_p_kw + v2_per_kvar @ bus_q_kvar`` (non-positive,
            symmetric: ``-2 / (1000 Vn^2)`` times the resistance, resp. reactance, of the
            path the two buses share).
    """

    bus_names: tuple[str, ...]
    branch_names: tuple[str, ...]
    bus_parent: np.ndarray
    branch_f: np.ndarray
    bus_f: np.ndarray
    net_cfg: np.ndarray
    station_bus: np.ndarray
    downstream: np.ndarray
    v2_per_kw: np.ndarray
    v2_per_kvar: np.ndarray

    @property
    def n_buses(self) -> int:
        return self.bus_parent.shape[0]


def _branch_params(description: NetworkDescription, branches: list[str]) -> np.ndarray:
    """``branch_f`` (ohm at the lv nominal voltage, kVA) for branches in kernel order."""
    vn_kv = description.nominal_voltage_kv
    t = description.transformer
    z_base_ohm = vn_kv * vn_kv * 1000.0 / t.rated_kva
    r_ohm = t.vkr_percent / 100.0 * z_base_ohm
    params = {
        t.name: (r_ohm, math.sqrt((t.vk_percent / 100.0 * z_base_ohm) ** 2 - r_ohm**2), t.rated_kva)
    }
    for line in description.lines:
        params[line.name] = (line.r_ohm, line.x_ohm, math.sqrt(3.0) * vn_kv * line.max_current_a)
    branch_f = np.zeros((L.N_BRANCH_FIELDS, len(branches)))
    for j, name in enumerate(branches[1:], start=1):
        branch_f[[L.BR_R_OHM, L.BR_X_OHM, L.BR_RATED_KVA], j] = params[name]
    return branch_f


def _downstream(bus_parent: np.ndarray) -> np.ndarray:
    n = bus_parent.shape[0]
    downstream = np.zeros((n, n))
    for k in range(n):
        j = k
        while j >= 0:
            downstream[j, k] = 1.0
            j = bus_parent[j]
    return downstream


def _shares(index: dict[str, int], placed: Sequence[tuple[str, float]]) -> np.ndarray:
    """Per-bus shares of one load or source from ``(bus, weight)`` pairs, shape (B,)."""
    shares = np.zeros(len(index))
    total = sum(weight for _, weight in placed)
    for bus, weight in placed:
        shares[index[bus]] += weight / total
    return shares


def network_arrays(
    network: NetworkConfig,
    station_ids: Sequence[str],
    turbine_kw: Sequence[float] | None = None,
) -> NetworkArrays:
    """The arrays of ``network`` with stations ``station_ids`` (scenario order).

    Args:
        turbine_kw: installed power of each ``wind.turbines`` entry, kW (its wind share);
            default: equal shares.

    Raises:
        KeyError: a station without a bus (``NetworkConfig.check_community`` rules it out).
    """
    description = network.description
    buses, parent, branches = tree_order(description)
    index = {bus: i for i, bus in enumerate(buses)}
    bus_parent = np.array(parent, dtype=np.int64)
    branch_f = _branch_params(description, branches)
    net_cfg = np.zeros(L.N_NET_CFG)
    net_cfg[L.NET_VN_KV] = description.nominal_voltage_kv
    net_cfg[L.NET_SLACK_PU] = description.slack_voltage_pu
    net_cfg[L.NET_V_MIN_PU] = network.voltage_min_pu
    net_cfg[L.NET_V_MAX_PU] = network.voltage_max_pu
    net_cfg[L.NET_HOUSEHOLD_TAN_PHI] = math.tan(math.acos(network.household_power_factor))
    net_cfg[L.NET_STATION_TAN_PHI] = math.tan(math.acos(network.station_power_factor))
    if turbine_kw is None:
        turbine_kw = [1.0] * len(network.turbines)
    bus_f = np.zeros((L.N_BUS_FIELDS, len(buses)))
    bus_f[L.BUS_HOUSEHOLD_SHARE] = _shares(index, [(g.bus, g.count) for g in network.households])
    bus_f[L.BUS_WIND_SHARE] = _shares(index, list(zip(network.turbines, turbine_kw, strict=True)))
    bus_f[L.BUS_PV_SHARE] = _shares(index, [] if network.pv is None else [(network.pv, 1.0)])
    downstream = _downstream(bus_parent)
    drop_per_kw_ohm = 2e-3 / description.nominal_voltage_kv**2
    r_ohm, x_ohm = branch_f[[L.BR_R_OHM, L.BR_X_OHM], :, None]
    return NetworkArrays(
        bus_names=tuple(buses),
        branch_names=tuple(branches),
        bus_parent=readonly(bus_parent),
        branch_f=readonly(branch_f),
        bus_f=readonly(bus_f),
        net_cfg=readonly(net_cfg),
        station_bus=readonly(
            np.array([index[network.stations[s]] for s in station_ids], dtype=np.int64)
        ),
        downstream=readonly(downstream),
        v2_per_kw=readonly(-drop_per_kw_ohm * downstream.T @ (r_ohm * downstream)),
        v2_per_kvar=readonly(-drop_per_kw_ohm * downstream.T @ (x_ohm * downstream)),
    )


def observation_bounds(
    arrays: NetworkArrays,
    household_high_kw: float,
    wind_high_kw: float,
    pv_high_kw: float,
    station_high_kw: np.ndarray,
) -> dict[str, np.ndarray]:
    """Bounds of the observation's network blocks (``core.observation``), per station.

    Under LinDistFlow a squared voltage is the slack's plus a non-positive coefficient times
    each bus's power, so it is lowest with every household at its peak and every station
    drawing its most, highest with every renewable at its peak and every station feeding its
    most; a branch's apparent power is at most the sum of its downstream loads' and sources'
    largest ``|p| sqrt(1 + tan^2)``.

    Args:
        household_high_kw, wind_high_kw, pv_high_kw: peak household load and installed wind
            and PV power, kW.
        station_high_kw: the most each station can draw or feed, kW, shape (S,).

    Returns:
        ``bus_voltage_low_pu``, ``bus_voltage_high_pu``, ``grid_headroom_low_kva``,
        ``grid_headroom_high_kva``, each shape (S,).
    """
    n = arrays.n_buses
    tan_h = arrays.net_cfg[L.NET_HOUSEHOLD_TAN_PHI]
    tan_s = arrays.net_cfg[L.NET_STATION_TAN_PHI]
    # per bus: the largest draw and feed-in (p, q), and the largest apparent power
    household_kw = household_high_kw * arrays.bus_f[L.BUS_HOUSEHOLD_SHARE]
    feed_kw = (
        wind_high_kw * arrays.bus_f[L.BUS_WIND_SHARE] + pv_high_kw * arrays.bus_f[L.BUS_PV_SHARE]
    )
    station_kw = np.bincount(arrays.station_bus, weights=station_high_kw, minlength=n)
    draw_p, draw_q = household_kw + station_kw, household_kw * tan_h + station_kw * tan_s
    feed_p, feed_q = -(feed_kw + station_kw), -station_kw * tan_s
    apparent_kva = household_kw * math.hypot(1.0, tan_h) + feed_kw
    apparent_kva = apparent_kva + station_kw * math.hypot(1.0, tan_s)
    slack2 = arrays.net_cfg[L.NET_SLACK_PU] ** 2
    v_low = np.sqrt(np.maximum(slack2 + arrays.v2_per_kw @ draw_p + arrays.v2_per_kvar @ draw_q, 0))
    v_high = np.sqrt(slack2 + arrays.v2_per_kw @ feed_p + arrays.v2_per_kvar @ feed_q)
    flow_kva = arrays.downstream @ apparent_kva
    rated_kva = arrays.branch_f[L.BR_RATED_KVA]
    ends = np.maximum(arrays.bus_parent, 0)
    low = rated_kva * np.minimum(v_low, v_low[ends]) - flow_kva
    high = rated_kva * np.minimum(v_high, v_high[ends])
    path = arrays.downstream[1:, arrays.station_bus].astype(bool)  # branches 1.. to each station
    return {
        "bus_voltage_low_pu": v_low[arrays.station_bus],
        "bus_voltage_high_pu": v_high[arrays.station_bus],
        "grid_headroom_low_kva": np.array([low[1:][p].min() for p in path.T]),
        "grid_headroom_high_kva": np.array([high[1:][p].min() for p in path.T]),
    }
