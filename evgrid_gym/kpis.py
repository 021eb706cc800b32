"""Episode KPIs from the core's episode totals (shared by the CLI, benchmarks and baselines)."""

from __future__ import annotations

import numpy as np

from evgrid_gym.core.layout import KPI, KPI_NAMES


def episode_kpis(kpi_total: np.ndarray) -> dict[str, float]:
    """The headline KPIs of an episode, from its totals (shape (N_KPI,)).

    Returns:
        ``energy_delivered_kwh`` (battery energy into EVs, net of V2G), ``unmet_energy_kwh``,
        ``cost_eur`` (external energy bought), ``renewable_share`` (own energy / all energy
        consumed in the community, 0..1; 0 when nothing was consumed), ``external_energy_kwh``,
        ``peak_import_kw``, ``overload_kwh``, ``satisfaction`` (delivered / requested energy
        of the departed EVs; 1 when nothing was requested), followed by every raw total
        prefixed ``total_``.
    """
    t = {name: float(kpi_total[i]) for i, name in enumerate(KPI_NAMES)}
    consumed = t["own_energy_used_kwh"] + t["external_energy_kwh"]
    requested = t["requested_kwh"]
    summary = {
        "energy_delivered_kwh": t["ev_energy_kwh"],
        "unmet_energy_kwh": t["unmet_energy_kwh"],
        "cost_eur": t["energy_cost_eur"],
        "renewable_share": t["own_energy_used_kwh"] / consumed if consumed > 0 else 0.0,
        "external_energy_kwh": t["external_energy_kwh"],
        "peak_import_kw": float(kpi_total[KPI["import_kw"]]),
        "overload_kwh": t["overload_kwh"],
        "satisfaction": t["delivered_kwh"] / requested if requested > 0 else 1.0,
    }
    summary.update({f"total_{name}": value for name, value in t.items()})
    return summary
