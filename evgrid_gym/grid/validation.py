"""LinDistFlow (:mod:`evgrid_gym.core.network`) against pandapower's AC power flow.

Needs ``pandapower`` (the ``network-check`` extra; imported when a function here first needs
it, so that the package imports without it). Used by ``tests/test_network_ac.py`` and
``benchmarks/bench_network.py``: the same per-bus loads go through both models and the
largest differences of bus voltages and branch loadings are reported, over all cases and over
those where the AC solution is within the limits (voltages, rated currents).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from evgrid_gym.core.layout import NET_V_MAX_PU, NET_V_MIN_PU
from evgrid_gym.core.network import power_flow
from evgrid_gym.extras import install_line
from evgrid_gym.grid.arrays import NetworkArrays
from evgrid_gym.grid.description import NetworkDescription

if TYPE_CHECKING:
    import pandapower as pp

INSTALL = install_line("network-check")

HV_PER_LV = 50.0
"""Nominal hv voltage of the pandapower transformer per lv kV (any ratio gives the same pu
results: the transformer's impedance is given relative to its rating)."""


def _pandapower() -> ModuleType:
    """The ``pandapower`` module.

    Raises:
        ImportError: pandapower is not installed (the message gives the install line).
    """
    try:
        return importlib.import_module("pandapower")
    except ImportError:
        raise ImportError(f"pandapower is not installed: {INSTALL}") from None


def to_pandapower(description: NetworkDescription) -> pp.pandapowerNet:
    """The description as a pandapower network: an external grid at the slack voltage on the
    hv bus, the transformer without magnetising branch, lines without capacitance.

    Raises:
        ImportError: pandapower is not installed.
    """
    pp = _pandapower()
    net = pp.create_empty_network(name=description.name)
    t = description.transformer
    vn_kv = description.nominal_voltage_kv
    index = {
        bus: pp.create_bus(net, vn_kv=HV_PER_LV * vn_kv if bus == t.hv_bus else vn_kv, name=bus)
        for bus in description.buses
    }
    pp.create_ext_grid(net, index[t.hv_bus], vm_pu=description.slack_voltage_pu)
    pp.create_transformer_from_parameters(
        net, index[t.hv_bus], index[t.lv_bus], sn_mva=t.rated_kva / 1000.0,
        vn_hv_kv=HV_PER_LV * vn_kv, vn_lv_kv=vn_kv, vkr_percent=t.vkr_percent,
        vk_percent=t.vk_percent, pfe_kw=0.0, i0_percent=0.0, name=t.name,
    )  # fmt: skip
    for line in description.lines:
        pp.create_line_from_parameters(
            net, index[line.from_bus], index[line.to_bus], length_km=1.0,
            r_ohm_per_km=line.r_ohm, x_ohm_per_km=line.x_ohm, c_nf_per_km=0.0,
            max_i_ka=line.max_current_a / 1000.0, name=line.name,
        )  # fmt: skip
    return net


class ACModel:
    """A pandapower network with one load per bus of ``arrays`` (its own loads and generators
    switched off), solved for given per-bus powers.

    Raises:
        KeyError: a bus or branch of ``arrays`` that ``net`` does not name.
    """

    def __init__(self, net: pp.pandapowerNet, arrays: NetworkArrays):
        pp = _pandapower()
        self.net = net
        net.load["in_service"] = False
        net.sgen["in_service"] = False
        bus_index = {name: i for i, name in net.bus["name"].items()}
        self.loads = [
            pp.create_load(net, bus_index[name], p_mw=0.0, q_mvar=0.0)
            for name in arrays.bus_names[1:]  # bus 0 is the slack
        ]
        line_index = {name: i for i, name in net.line["name"].items()}
        self.lines = [line_index[name] for name in arrays.branch_names[2:]]
        self.bus = [bus_index[name] for name in arrays.bus_names]

    def solve(self, bus_p_kw: np.ndarray, bus_q_kvar: np.ndarray):
        """``(bus_v_pu, branch_loading_pct)`` in kernel order (column 0 of the loading: 0)."""
        self.net.load.loc[self.loads, "p_mw"] = bus_p_kw[1:] / 1000.0
        self.net.load.loc[self.loads, "q_mvar"] = bus_q_kvar[1:] / 1000.0
        # numba=False: no compile, faster for a few runs
        _pandapower().runpp(self.net, tolerance_mva=1e-9, numba=False)
        loading = np.concatenate(
            [
                [0.0, self.net.res_trafo.loading_percent.iloc[0]],
                self.net.res_line.loading_percent.loc[self.lines].to_numpy(),
            ]
        )
        return self.net.res_bus.vm_pu.loc[self.bus].to_numpy(), loading


def random_loads(
    arrays: NetworkArrays,
    rng: np.random.Generator,
    household_kw: float = 6.0,
    station_kw: tuple[float, float] = (-60.0, 150.0),
    n_stations: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """One random case: ``(bus_p_kw, bus_q_kvar)``, shape (B,) each.

    A common level ``s ~ U(0, 1.2)``; every bus from 2 on draws ``U(0, household_kw) * s`` at
    power factor 0.93 (households); ``n_stations`` random buses add ``U(*station_kw) * s`` at
    unity power factor (stations, negative: V2G or BESS export).
    """
    n = arrays.n_buses
    level = rng.uniform(0.0, 1.2)
    p = np.zeros(n)
    p[2:] = rng.uniform(0.0, household_kw, n - 2) * level
    q = p * np.tan(np.arccos(0.93))
    stations = rng.choice(np.arange(2, n), size=n_stations, replace=False)
    p[stations] += rng.uniform(*station_kw, n_stations) * level
    return p, q


@dataclass
class Errors:
    """Largest |LinDistFlow - AC| over the cases: voltage (pu), line and transformer loading
    (percentage points); ``within`` over the cases whose AC solution meets every limit."""

    cases: int = 0
    within_cases: int = 0
    voltage_pu: float = 0.0
    line_pp: float = 0.0
    transformer_pp: float = 0.0
    within_voltage_pu: float = 0.0
    within_line_pp: float = 0.0
    within_transformer_pp: float = 0.0
    max_line_loading_pct: float = 0.0
    """Highest AC line loading among the cases within the limits."""


def compare(model: ACModel, arrays: NetworkArrays, cases) -> Errors:
    """Runs every ``(bus_p_kw, bus_q_kvar)`` case through both models."""
    errors = Errors()
    n = arrays.n_buses
    v, branch_p, branch_q, loading = (np.zeros(n) for _ in range(4))
    v_min, v_max = arrays.net_cfg[[NET_V_MIN_PU, NET_V_MAX_PU]]
    for p, q in cases:
        power_flow(arrays.bus_parent, arrays.branch_f, arrays.net_cfg, p, q, v, branch_p,
                   branch_q, loading)  # fmt: skip
        ac_v, ac_loading = model.solve(p, q)
        dv = np.abs(v - ac_v).max()
        d_line = np.abs(loading[2:] - ac_loading[2:]).max(initial=0.0)
        d_trafo = abs(loading[1] - ac_loading[1])
        errors.cases += 1
        errors.voltage_pu = max(errors.voltage_pu, dv)
        errors.line_pp = max(errors.line_pp, d_line)
        errors.transformer_pp = max(errors.transformer_pp, d_trafo)
        if ac_v[1:].min() >= v_min and ac_v[1:].max() <= v_max and ac_loading.max() <= 100.0:
            errors.within_cases += 1
            errors.within_voltage_pu = max(errors.within_voltage_pu, dv)
            errors.within_line_pp = max(errors.within_line_pp, d_line)
            errors.within_transformer_pp = max(errors.within_transformer_pp, d_trafo)
            errors.max_line_loading_pct = max(
                errors.max_line_loading_pct, ac_loading[2:].max(initial=0.0)
            )
    return errors
