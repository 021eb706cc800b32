"""What an episode's EVs announce when they reserve: request tick, origin, price limit, and
whether they come late or not at all (the fields ``EV_REQUEST`` .. ``EV_MAX_PRICE`` of the
EV table, ``core.layout``; the auction itself is ``core.contract_net``)."""

from __future__ import annotations

import numpy as np

from evgrid_gym.arrivals import sorted_by_arrival
from evgrid_gym.config import ScenarioConfig
from evgrid_gym.core import layout as L
from evgrid_gym.core.sampling import REQUEST_UNIFORMS, plan_requests


class RequestPlanner:
    """Adds the reservation fields to an episode's EV table.

    With reservations off: no EV requests (``EV_REQUEST`` = +inf) and each comes as recorded.
    On, for each EV: the request goes out ``lead_time_h`` before its planned (recorded) arrival,
    at the earliest at tick 0; its origin is its station's location plus normal noise of
    ``origin_spread_km`` per axis (a random station for EVs without one); its price limit is
    uniform in ``max_price_eur_per_kwh``. With ``no_show_probability`` it never comes; else
    with ``late_probability`` it comes an exponential delay (mean ``late_mean_h``, at least
    one tick) late, and not at all if that is at or after its departure.

    Args:
        config: the scenario.
        station_xy_km: station locations, shape (2, S).
    """

    def __init__(self, config: ScenarioConfig, station_xy_km: np.ndarray):
        self.config = config.reservation
        self.station_xy_km = station_xy_km
        self.lead_ticks = round(self.config.lead_time_h / config.dt_h)
        self.late_mean_ticks = self.config.late_mean_h / config.dt_h

    def plan(self, rng: np.random.Generator, ev: np.ndarray) -> np.ndarray:
        """``ev`` (N_EV_FIELDS, n) with its reservation fields set (in place when off), sorted
        by the actual arrival (no-shows last, arrival +inf)."""
        r = self.config
        if not r.enabled:  # on every episode start: plain row writes only
            ev[L.EV_PLANNED_ARRIVAL] = ev[L.EV_ARRIVAL]
            ev[L.EV_REQUEST] = np.inf
            ev[L.EV_X_KM : L.EV_MAX_PRICE + 1] = 0.0  # x, y, price limit: consecutive fields
            return ev
        u = rng.random((ev.shape[1], REQUEST_UNIFORMS))  # one draw, one compiled call
        plan_requests(
            ev, u, self.station_xy_km, float(self.lead_ticks), r.origin_spread_km,
            *r.max_price_eur_per_kwh, r.no_show_probability, r.late_probability,
            self.late_mean_ticks,
        )  # fmt: skip
        return sorted_by_arrival(ev)
