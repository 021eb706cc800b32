"""Episode KPIs from the core's episode totals (shared by the CLI, benchmarks and baselines)."""

from __future__ import annotations

import numpy as np

from evgrid_gym.core.layout import KPI, KPI_NAMES


def episode_kpis(kpi_total: np.ndarray) -> dict[str, float | np.ndarray]:
    """The headline KPIs of an episode, from its totals.

    Args:
        kpi_total: episode totals, shape (N_KPI,) for one env or (N, N_KPI) for N envs.

    Returns:
        Floats for one env, arrays of shape (N,) for N envs: ``energy_delivered_kwh`` (battery
        energy into EVs, net of V2G), ``unmet_energy_kwh``, ``cost_eur`` (external energy
        bought), ``renewable_share`` (own energy / all energy consumed in the community,
        0..1; 0 when nothing was consumed), ``external_energy_kwh``, ``peak_import_kw``,
        ``overload_kwh``, ``satisfaction`` (delivered / requested energy of the departed EVs;
        1 when nothing was requested), ``household_kwh`` (always served in full: the supplier
        covers what own energy does not), ``acceptance_rate`` (confirmed / requested
        reservations; 1 without requests), ``reservations_rejected``, ``no_shows``,
        ``missed_deadlines``, ``outage_unmet_kwh``, followed by every raw total prefixed
        ``total_``.
    """
    totals = np.array(kpi_total, dtype=float)  # a copy: the results outlive the totals
    t = {name: totals[..., i] for i, name in enumerate(KPI_NAMES)}
    consumed = t["own_energy_used_kwh"] + t["external_energy_kwh"]
    requested = t["requested_kwh"]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(consumed > 0, t["own_energy_used_kwh"] / consumed, 0.0)
        satisfaction = np.where(requested > 0, t["delivered_kwh"] / requested, 1.0)
        acceptance = np.where(
            t["reservation_requests"] > 0,
            t["reservations_confirmed"] / t["reservation_requests"],
            1.0,
        )
    summary = {
        "energy_delivered_kwh": t["ev_energy_kwh"],
        "unmet_energy_kwh": t["unmet_energy_kwh"],
        "cost_eur": t["energy_cost_eur"],
        "renewable_share": share,
        "external_energy_kwh": t["external_energy_kwh"],
        "peak_import_kw": totals[..., KPI["import_kw"]],
        "overload_kwh": t["overload_kwh"],
        "satisfaction": satisfaction,
        "household_kwh": t["household_kwh"],
        "acceptance_rate": acceptance,
        "reservations_rejected": t["reservations_rejected"],
        "no_shows": t["no_shows"],
        "missed_deadlines": t["missed_deadlines"],
        "outage_unmet_kwh": t["outage_unmet_kwh"],
    }
    summary.update({f"total_{name}": value for name, value in t.items()})
    if totals.ndim == 1:
        return {name: float(value) for name, value in summary.items()}
    return summary
