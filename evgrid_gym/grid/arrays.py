"""A network with its community as the packed arrays of :mod:`evgrid_gym.core.network`.

Built once per scenario: the tree in topological order, branch impedances and ratings, where
every element (household group, turbine entry, station) sits and its power factor, and the
linear sensitivities an optimisation model needs (flows and squared voltages as matrices of
the per-bus powers, exactly what the kernels compute bus by bus).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evgrid_gym.core import layout as L
from evgrid_gym.grid.config import NetworkConfig
from evgrid_gym.grid.description import NetworkDescription, tree_order


def _readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class NetworkArrays:
    """Static arrays of one network and community (all read-only; B buses, E elements).

    Attributes:
        bus_names: bus names in kernel order (``core.layout``, section "network").
        branch_names: the name of the branch feeding each bus ("" for bus 0).
        bus_parent: upstream bus of each bus, int64, shape (B,).
        branch_f: branch parameters, shape (N_BRANCH_FIELDS, B).
        net_cfg: scalar parameters, shape (N_NET_CFG,).
        element_bus: bus of each element, int64, shape (E,): the household groups
            (``n_household_groups``), then the turbine entries (``n_turbines``), then the
            stations in scenario order (``n_stations``).
        element_tan_phi: ``tan(acos(power factor))`` of each element, shape (E,).
        household_share: share of the household load on each household group, shape (H,).
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
    net_cfg: np.ndarray
    element_bus: np.ndarray
    element_tan_phi: np.ndarray
    household_share: np.ndarray
    n_household_groups: int
    n_turbines: int
    n_stations: int
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


def network_arrays(network: NetworkConfig, station_ids: Sequence[str]) -> NetworkArrays:
    """The arrays of ``network`` with stations ``station_ids`` (scenario order).

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
    placed = (
        [(g.bus, network.household_power_factor) for g in network.households]
        + [(bus, 1.0) for bus in network.turbines]
        + [(network.stations[s], network.station_power_factor) for s in station_ids]
    )
    counts = np.array([g.count for g in network.households], dtype=float)
    downstream = _downstream(bus_parent)
    drop_per_kw_ohm = 2e-3 / description.nominal_voltage_kv**2
    r_ohm, x_ohm = branch_f[[L.BR_R_OHM, L.BR_X_OHM], :, None]
    return NetworkArrays(
        bus_names=tuple(buses),
        branch_names=tuple(branches),
        bus_parent=_readonly(bus_parent),
        branch_f=_readonly(branch_f),
        net_cfg=_readonly(net_cfg),
        element_bus=_readonly(np.array([index[bus] for bus, _ in placed], dtype=np.int64)),
        element_tan_phi=_readonly(np.array([math.tan(math.acos(pf)) for _, pf in placed])),
        household_share=_readonly(counts / counts.sum() if counts.size else counts),
        n_household_groups=len(network.households),
        n_turbines=len(network.turbines),
        n_stations=len(station_ids),
        downstream=_readonly(downstream),
        v2_per_kw=_readonly(-drop_per_kw_ohm * downstream.T @ (r_ohm * downstream)),
        v2_per_kvar=_readonly(-drop_per_kw_ohm * downstream.T @ (x_ohm * downstream)),
    )
