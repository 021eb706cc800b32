"""Episode KPIs from the core's episode totals, and the unit of the reward.

The tick KPIs, their units and how an episode aggregates them are declared once, in the KPI
registry of :mod:`evgrid_gym.core.layout` (``KPIS``). This module declares the episode KPIs
derived from those totals (:data:`EPISODE_KPIS`: renamed headline figures and ratios, with
unit and label) and which of them the CLI's ``simulate`` table and the dashboard show; the
CLI, the dashboard, the benchmarks and the baselines read them from here. Adding an episode
KPI is one :class:`EpisodeKpi` entry (and its row in the README's table, which
``tests/test_kpis.py`` prints).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np

from evgrid_gym.core.layout import KPI, KPI_NAMES, KPIS

RATIO = "-"
"""The unit of a dimensionless ratio, 0..1."""
MIXED_UNITS = "reward units"
"""The reward's unit when its weighted KPIs have different units."""

Totals = dict[str, np.ndarray]


class EpisodeKpi(NamedTuple):
    """One episode KPI derived from the episode totals.

    Attributes:
        name: its key in :func:`episode_kpis` (and ``info["episode_kpis"]``).
        unit: a unit of ``core.layout.KPI_UNITS``, or :data:`RATIO`.
        label: how the CLI and the dashboard name it.
        description: what it is, one line.
        value: the KPI from the totals by tick-KPI name (arrays of shape () or (N,)).
        cli: shown in the table of ``evgrid-gym simulate``.
        dashboard: shown among the dashboard's running KPIs.
    """

    name: str
    unit: str
    label: str
    description: str
    value: Callable[[Totals], np.ndarray]
    cli: bool = False
    dashboard: bool = False


def _total(name: str, total_of: str, label: str, **shown: bool) -> EpisodeKpi:
    """The episode total (or peak) of the tick KPI ``total_of``, in its unit."""
    kpi = KPIS[KPI[total_of]]
    aggregate = {"sum": "total", "max": "peak", "min": "lowest tick"}[kpi.episode]
    description = f"episode {aggregate} of `{total_of}`"
    return EpisodeKpi(name, kpi.unit, label, description, lambda t: t[total_of], **shown)


def _ratio(numerator: np.ndarray, denominator: np.ndarray, empty: float) -> np.ndarray:
    """``numerator / denominator``, ``empty`` where the denominator is not positive."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / denominator, empty)


def _renewable_share(t: Totals) -> np.ndarray:
    own = t["own_energy_used_kwh"]
    return _ratio(own, own + t["external_energy_kwh"], 0.0)


def _satisfaction(t: Totals) -> np.ndarray:
    return _ratio(t["delivered_kwh"], t["requested_kwh"], 1.0)


def _acceptance_rate(t: Totals) -> np.ndarray:
    return _ratio(t["reservations_confirmed"], t["reservation_requests"], 1.0)


EPISODE_KPIS = (
    _total("energy_delivered_kwh", "ev_energy_kwh", "energy delivered", cli=True, dashboard=True),
    _total("unmet_energy_kwh", "unmet_energy_kwh", "unmet energy", cli=True, dashboard=True),
    _total("cost_eur", "energy_cost_eur", "external energy cost", cli=True, dashboard=True),
    EpisodeKpi(
        "renewable_share",
        RATIO,
        "renewable share",
        "own energy / all energy consumed in the community; 0 when nothing was consumed",
        _renewable_share,
        cli=True,
        dashboard=True,
    ),
    _total(
        "external_energy_kwh", "external_energy_kwh", "external energy", cli=True, dashboard=True
    ),
    _total("peak_import_kw", "import_kw", "peak import", cli=True, dashboard=True),
    _total("overload_kwh", "overload_kwh", "overload", cli=True),
    EpisodeKpi(
        "satisfaction",
        RATIO,
        "satisfaction",
        "delivered / requested energy of the departed EVs; 1 when nothing was requested",
        _satisfaction,
        cli=True,
        dashboard=True,
    ),
    _total("household_kwh", "household_kwh", "household energy"),
    EpisodeKpi(
        "acceptance_rate",
        RATIO,
        "reservation acceptance",
        "confirmed / requested reservations; 1 without requests",
        _acceptance_rate,
        dashboard=True,
    ),
    _total("reservations_rejected", "reservations_rejected", "rejected reservations"),
    _total("no_shows", "no_shows", "no-shows"),
    _total("missed_deadlines", "missed_deadlines", "missed deadlines"),
    _total("outage_unmet_kwh", "outage_unmet_kwh", "outage unmet energy"),
    _total("revenue_eur", "revenue_eur", "EV revenue", cli=True),
    _total("export_revenue_eur", "export_revenue_eur", "export revenue"),
    _total("storage_value_eur", "storage_value_eur", "BESS storage value"),
    _total("degradation_cost_eur", "degradation_cost_eur", "battery wear", cli=True),
    # with grid.network (0 without one)
    _total("voltage_min_pu", "voltage_min_pu", "lowest voltage"),
    _total("voltage_max_pu", "voltage_max_pu", "highest voltage"),
    _total("line_loading_pct", "line_loading_pct", "peak line loading"),
    _total("transformer_loading_pct", "transformer_loading_pct", "peak transformer loading"),
    _total("network_violation_kwh", "network_violation_kwh", "network violation"),
)
"""The episode KPIs, in the order :func:`episode_kpis` returns them."""


def episode_kpis(kpi_total: np.ndarray) -> dict[str, float | np.ndarray]:
    """The episode KPIs (:data:`EPISODE_KPIS`) from the episode totals, then every raw total
    prefixed ``total_``.

    Args:
        kpi_total: episode totals, shape (N_KPI,) for one env or (N, N_KPI) for N envs.

    Returns:
        Floats for one env, arrays of shape (N,) for N envs.
    """
    totals = np.array(kpi_total, dtype=float)  # a copy: the results outlive the totals
    t = {name: totals[..., i] for i, name in enumerate(KPI_NAMES)}
    summary = {kpi.name: kpi.value(t) for kpi in EPISODE_KPIS}
    summary.update({f"total_{name}": value for name, value in t.items()})
    if totals.ndim == 1:
        return {name: float(value) for name, value in summary.items()}
    return summary


def reward_unit(kpi_weights: Mapping[str, float]) -> str:
    """The unit of a reward: the unit its weighted KPIs share, else :data:`MIXED_UNITS`.

    EUR for the ``profit`` and ``cost`` presets, kWh for ``satisfaction``; for ``custom``
    weights, the unit of the KPIs they weight when all have one.

    Args:
        kpi_weights: KPI name -> weight (``RewardConfig.kpi_weights``).
    """
    units = {KPIS[KPI[name]].unit for name, weight in kpi_weights.items() if weight != 0.0}
    return units.pop() if len(units) == 1 else MIXED_UNITS
