"""The env's reward as the model sees it: which KPIs it can carry, the reward per unit of each
modelled quantity, and the objective terms each component returns.

The objective is the scenario's reward weights (``Scenario.reward_weights``) times the KPIs,
summed over the window; payments between community members are transfers and cancel. Each
component returns its own :class:`Terms`; :func:`baselines.optimal.model.build_model` adds
them up. The reward unit is the env's: EUR for the ``profit`` and ``cost`` presets, kWh for
``satisfaction``, the weighted sum of a custom reward.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from evgrid_gym.core import layout as L
from evgrid_gym.envs.evgrid_env import EpisodePlan
from evgrid_gym.scenario import Scenario

SUPPORTED_KPIS = L.OPTIMAL_REWARD_TERMS
"""KPIs whose reward weights the model can carry (the KPI registry's ``reward="optimal"``;
``own_energy_used_kwh`` cannot: it depends on each station's sign of net import, which is not
linear)."""

THROUGHPUT_EUR_PER_KWH = 1e-6
"""Tie-breaking cost on BESS throughput and V2G energy, reward units per kWh (added back to
the reported objective by :func:`baselines.optimal.solve.solve`)."""

PAYS_TOL = 1e-12
"""A reward per kWh above this is positive (consuming energy pays)."""


class OptimalModelError(ValueError):
    """The scenario's reward or state cannot be represented exactly by the model."""


@dataclass
class Terms:
    """A component's share of the window's reward (reward units).

    Attributes:
        expressions: linear Pyomo expressions of the component's variables.
        constant: the part no decision changes.
    """

    expressions: list = field(default_factory=list)
    constant: float = 0.0


def reward_weights(scenario: Scenario) -> dict[str, float]:
    """The scenario's nonzero reward weights by KPI name.

    Raises:
        OptimalModelError: a weight on a KPI the model cannot represent (listed in the
            message with the supported ones), or ACN pilots (``battery.pilot: acn``).
    """
    weights = {
        name: float(w)
        for name, w in zip(L.KPI_NAMES, scenario.reward_weights, strict=True)
        if w != 0.0
    }
    if scenario.cfg[L.CFG_ACN_PILOT] > 0.0:
        raise OptimalModelError(
            "battery.pilot: got 'acn'; the optimal model plans average powers "
            "(battery.pilot: 'average')"
        )
    unsupported = sorted(set(weights) - set(SUPPORTED_KPIS))
    if unsupported:
        raise OptimalModelError(
            f"reward weights on {unsupported} are not supported by the optimal model; "
            f"supported KPIs: {list(SUPPORTED_KPIS)}"
        )
    return weights


@dataclass(frozen=True)
class RewardRates:
    """The reward per unit of each quantity the model decides, over ticks ``[t0, t1)``.

    Attributes:
        revenue: weight of the tariff revenue (per EUR the drivers pay).
        ev_energy_per_kwh: per kWh into EV batteries.
        unmet_per_kwh: per kWh an EV leaves short of its target (the unmet-energy weight
            plus the penalty weight times ``reward.unmet_penalty_eur_per_kwh``).
        overload_per_kwh: per kWh of overload (likewise with the overload penalty).
        external_per_kwh: per kWh bought from the external supplier, shape (H,): the energy
            cost weight times the day-ahead price plus the external-energy weight.
        surplus_per_kwh: per kWh of surplus, shape (H,): the export weight times the feed-in
            price where the community exports, else 0 (the surplus is curtailed).
        storage_per_kwh: worth of a kWh stored in a BESS (the storage-value weight times the
            episode's storage value, ``EXO_STORAGE_VALUE``).
        v2g_wear_per_kwh: per battery kWh V2G takes out of an EV (the degradation weight times
            ``CFG_V2G_DEGRADATION``).
        bess_wear_per_kwh: per battery kWh into or out of each station's BESS, shape (S,)
            (the degradation weight times ``ST_BESS_DEGRADATION``).
    """

    revenue: float
    ev_energy_per_kwh: float
    unmet_per_kwh: float
    overload_per_kwh: float
    external_per_kwh: np.ndarray
    surplus_per_kwh: np.ndarray
    storage_per_kwh: float
    v2g_wear_per_kwh: float
    bess_wear_per_kwh: np.ndarray

    @classmethod
    def of(cls, scenario: Scenario, plan: EpisodePlan, t0: int, t1: int) -> RewardRates:
        """The rates of ``scenario``'s reward on ticks ``[t0, t1)`` of ``plan``.

        Raises:
            OptimalModelError: see :func:`reward_weights`.
        """
        w = reward_weights(scenario).get
        cfg, exo = scenario.cfg, plan.exo
        price = exo[L.EXO_PRICE, t0:t1]
        feed_in = exo[L.EXO_FEED_IN, t0:t1]
        exported = cfg[L.CFG_EXPORT] > 0.0
        return cls(
            revenue=w("revenue_eur", 0.0),
            ev_energy_per_kwh=w("ev_energy_kwh", 0.0),
            unmet_per_kwh=w("unmet_energy_kwh", 0.0)
            + w("unmet_penalty_eur", 0.0) * float(cfg[L.CFG_UNMET_PENALTY]),
            overload_per_kwh=w("overload_kwh", 0.0)
            + w("overload_penalty_eur", 0.0) * float(cfg[L.CFG_OVERLOAD_PENALTY]),
            external_per_kwh=w("energy_cost_eur", 0.0) * price + w("external_energy_kwh", 0.0),
            surplus_per_kwh=(w("export_revenue_eur", 0.0) if exported else 0.0) * feed_in,
            storage_per_kwh=w("storage_value_eur", 0.0) * float(exo[L.EXO_STORAGE_VALUE, t0]),
            v2g_wear_per_kwh=w("degradation_cost_eur", 0.0) * float(cfg[L.CFG_V2G_DEGRADATION]),
            bess_wear_per_kwh=w("degradation_cost_eur", 0.0)
            * scenario.station_f[L.ST_BESS_DEGRADATION],
        )

    @property
    def burn_pays(self) -> np.ndarray:
        """Ticks where consuming energy pays (a negative price or feed-in), shape (H,)."""
        return np.maximum(self.external_per_kwh, -self.surplus_per_kwh) > PAYS_TOL

    def require_penalised_overload(self) -> None:
        """Raises :class:`OptimalModelError` where overload would be rewarded."""
        if self.overload_per_kwh > 0.0:
            raise OptimalModelError(
                f"the reward weights overload with {self.overload_per_kwh} per kWh (> 0); the "
                "model needs overload penalised (or not weighted)"
            )
