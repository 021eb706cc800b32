"""The window of an episode a model covers: its ticks, exogenous inputs and grid settings,
shared by every component.

Outages (``plan.outage``) enter as the env applies them: the wind share of turbines down is
lost (``renewable_kw``), and a station whose link is down (``link_down``) runs on its fallback
(:mod:`baselines.optimal.fallback`); chargers down deliver nothing (:mod:`baselines.optimal.ev`).

Numerics: shared limits (charger, station, feeder) are modelled :data:`LIMIT_MARGIN_KW`
tighter than the env's (:func:`inside_kw`), above HiGHS's feasibility tolerance, so that the
env never projects a replayed schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evgrid_gym.core import layout as L
from evgrid_gym.envs.evgrid_env import EpisodePlan
from evgrid_gym.scenario import Scenario

LIMIT_MARGIN_KW = 1e-6
"""Shared limits (charger, station, feeder) are modelled this much tighter, kW: more than
HiGHS's primal feasibility tolerance (1e-7)."""


def inside_kw(limit_kw: float) -> float:
    """A shared limit as modelled, kW (:data:`LIMIT_MARGIN_KW` inside the env's)."""
    return limit_kw - LIMIT_MARGIN_KW


@dataclass(frozen=True)
class Window:
    """Ticks ``[t0, t1)`` of an episode and the inputs every component reads.

    Attributes:
        t0, t1: first tick and one past the last (absolute ticks).
        dt_h: tick length, h.
        soft: soft grid limits (overload penalised) rather than hard ones.
        feeder_kw: the feeder's limit, kW.
        household_kw: household load, kW, shape (H,) (``H = t1 - t0``).
        renewable_kw: renewable power less the wind share of turbines down, kW, shape (H,).
        link_down: stations whose link is down, bool, shape (S, H).
        component_down: components down per absolute tick, shape (K + S + 1, n_exo_ticks)
            (``plan.outage`` transposed: chargers, station links, turbines).
        terminal_bess: each BESS must end the window with at least its starting energy.
    """

    t0: int
    t1: int
    dt_h: float
    soft: bool
    feeder_kw: float
    household_kw: np.ndarray
    renewable_kw: np.ndarray
    link_down: np.ndarray
    component_down: np.ndarray
    terminal_bess: bool

    @property
    def n_ticks(self) -> int:
        """Window length, ticks."""
        return self.t1 - self.t0

    @property
    def ticks(self) -> range:
        """The window's absolute ticks."""
        return range(self.t0, self.t1)

    @classmethod
    def of(
        cls,
        scenario: Scenario,
        plan: EpisodePlan,
        start_tick: int,
        horizon: int | None,
        terminal_bess: bool | None,
    ) -> Window:
        """Ticks ``[start_tick, start_tick + horizon)`` of ``plan`` (see ``build_model``).

        Raises:
            ValueError: a window outside the episode.
        """
        cfg = scenario.cfg
        n_total = int(cfg[L.CFG_N_TICKS])
        if horizon is None:
            horizon = n_total - start_tick
        if not (0 <= start_tick < n_total and 1 <= horizon <= n_total - start_tick):
            raise ValueError(
                f"window: got start_tick={start_tick}, horizon={horizon}; "
                f"must lie in [0, {n_total})"
            )
        t0, t1 = start_tick, start_tick + horizon
        exo, n_ch = plan.exo, scenario.n_chargers
        down = np.asarray(plan.outage).T  # components x ticks
        wind_lost_kw = exo[L.EXO_WIND_KW, t0:t1] * down[-1, t0:t1]
        return cls(
            t0=t0,
            t1=t1,
            dt_h=float(cfg[L.CFG_DT_H]),
            soft=cfg[L.CFG_SOFT_LIMITS] > 0.0,
            feeder_kw=float(cfg[L.CFG_FEEDER_KW]),
            household_kw=exo[L.EXO_HOUSEHOLD_KW, t0:t1],
            renewable_kw=exo[L.EXO_RENEWABLE_KW, t0:t1] - wind_lost_kw,
            link_down=down[n_ch : n_ch + scenario.n_stations, t0:t1] > 0.0,
            component_down=down,
            terminal_bess=t1 < n_total if terminal_bess is None else terminal_bess,
        )
