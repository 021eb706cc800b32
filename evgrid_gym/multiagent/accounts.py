"""Each station's profit in a tick: the ``reward="station"`` of the multi-agent env.

A station's profit is what it earns from its EVs minus what it pays for its energy and its own
penalties (the columns of :data:`TERMS`):

    profit = revenue - market_payment - external_cost + storage_value - unmet_penalty
             - overload_penalty

- ``revenue_eur``: the tariff its drivers pay per kWh into their batteries (paid back per kWh
  of V2G), booked as the env books ``revenue_eur``;
- ``market_payment_eur``: what it pays the community's producers for own energy in the market
  (seed 000's pay-as-bid, or the uniform price; ``info["station_market_payment_eur"]``);
- ``external_cost_eur``: the energy it buys from the external supplier, at the supplier's
  price (``info["station_external_kwh"]`` times the price);
- ``storage_value_eur``: the change of the worth of the energy in its BESS (as the env's
  ``storage_value_eur``), so that draining it is not free;
- ``unmet_penalty_eur``: the unmet-energy penalty of the EVs that left its connectors;
- ``overload_penalty_eur``: the penalty on its power above its grid capacity (soft limits;
  the feeder's overload is the community's, not a station's).

A station's net export (V2G, BESS discharge) goes into the community's own supply unpaid: in
seed 000's market stations only buy.

**Identity.** With the ``profit`` reward the single-agent reward R of a tick is the
community's profit, and the stations are one part of the community:

    R = sum over stations of profit
        + station_payment_eur + export_revenue_eur        (the turbine owner's income)
        - household_external_kwh * price                  (the households' external energy)
        - (overload_penalty_eur - sum of the stations' overload penalties)   (the feeder's)

since payments for own energy are transfers inside the community (the households' to the
turbine owner cancel; the stations' are their cost here and the owner's income there);
``household_external_kwh`` is ``external_energy_kwh`` minus the stations'
``station_external_kwh``. ``tests/test_multiagent.py`` checks it tick by tick.

Where the numbers come from: the env's ``info`` has each station's market results but not its
revenue, unmet penalty or storage value, so :class:`StationAccounts` reads the single env's
connector state before and after the tick and books them as the core books the totals (the
same floating-point operations, :func:`station_terms`). It is the multi-agent env's one reader
of the single env's internal state; once the core reports these per station, it becomes a
lookup.
"""

from __future__ import annotations

import numpy as np

from evgrid_gym.core import layout as L
from evgrid_gym.core.battery import battery_energy_kwh
from evgrid_gym.core.jit import kernel
from evgrid_gym.core.layout import (
    CFG_DT_H,
    CFG_OVERLOAD_PENALTY,
    CFG_SOFT_LIMITS,
    CFG_UNMET_PENALTY,
    CH_EFFICIENCY,
    CN_DELIVERED_KWH,
    CN_EV,
    CN_OCCUPIED,
    CN_POWER_KW,
    CN_REQUESTED_KWH,
    CN_TARIFF,
    EXO_PRICE,
    EXO_STORAGE_VALUE,
    SO_BESS_KW,
    SO_BID_EUR_PER_KWH,
    SO_EXTERNAL_KWH,
    SO_MARKET_PAYMENT_EUR,
    SO_NET_KW,
    SO_OWN_KWH,
    ST_BESS_EFFICIENCY,
    ST_BESS_KWH,
    ST_GRID_KW,
)
from evgrid_gym.envs import EVGridEnv
from evgrid_gym.scenario import Scenario

RESULTS = (
    ("net_kw", SO_NET_KW),
    ("own_kwh", SO_OWN_KWH),
    ("external_kwh", SO_EXTERNAL_KWH),
    ("bid_eur_per_kwh", SO_BID_EUR_PER_KWH),
    ("bess_kw", SO_BESS_KW),
)
"""A station's market results in the tick (the single env's ``info["station_*"]``), and their
field in the core's per-station results."""
TERMS = (
    "revenue_eur",
    "market_payment_eur",
    "external_cost_eur",
    "storage_value_eur",
    "unmet_penalty_eur",
    "overload_penalty_eur",
)
"""The terms of a station's profit."""
SIGNS = (1.0, -1.0, -1.0, 1.0, -1.0, -1.0)
"""The sign of each of :data:`TERMS` in the profit."""
COLUMNS = (*(name for name, _ in RESULTS), *TERMS, "profit_eur")
"""The columns of :meth:`StationAccounts.close`'s table: results, profit terms, profit."""
_RESULT_FIELDS = tuple(field for _, field in RESULTS)
_FIRST_TERM = len(RESULTS)
REVENUE, MARKET_PAYMENT, EXTERNAL_COST, STORAGE_VALUE, UNMET_PENALTY, OVERLOAD_PENALTY, PROFIT = (
    range(_FIRST_TERM, len(COLUMNS))
)


@kernel
def station_terms(
    cfg, conn_charger, charger_f, charger_station, station_f, exo, tick, conn_before, conn,
    station_out, terms,
):  # fmt: skip
    """Books every station's results and profit terms of the tick ``tick`` just stepped.

    Args:
        cfg, conn_charger, charger_f, charger_station, station_f: the scenario's static arrays.
        exo: the episode's exogenous inputs (price and storage value of the tick).
        tick: the tick that was stepped.
        conn_before: the connector state before the step, (N_CONN_FIELDS, C).
        conn: the connector state after it (``CN_POWER_KW``: the tick's power; ``CN_EV``:
            the EV now, another one where the EV left).
        station_out: the tick's per-station results, (N_STATION_OUT, S).
        terms: output, (S, len(COLUMNS)): the columns :data:`COLUMNS`.
    """
    dt_h = cfg[CFG_DT_H]
    terms[:, :] = 0.0
    for c in range(conn.shape[1]):
        if conn_before[CN_OCCUPIED, c] == 0.0:
            continue
        k = conn_charger[c]
        s = charger_station[k]
        delta_kwh = battery_energy_kwh(conn[CN_POWER_KW, c], charger_f[CH_EFFICIENCY, k], dt_h)[0]
        terms[s, REVENUE] += delta_kwh * conn_before[CN_TARIFF, c]
        if conn[CN_EV, c] != conn_before[CN_EV, c]:  # its EV left
            delivered_kwh = conn_before[CN_DELIVERED_KWH, c] + delta_kwh
            unmet_kwh = max(conn_before[CN_REQUESTED_KWH, c] - delivered_kwh, 0.0)
            terms[s, UNMET_PENALTY] += unmet_kwh * cfg[CFG_UNMET_PENALTY]
    for s in range(station_f.shape[1]):
        for i in range(len(_RESULT_FIELDS)):
            terms[s, i] = station_out[_RESULT_FIELDS[i], s]
        terms[s, MARKET_PAYMENT] = station_out[SO_MARKET_PAYMENT_EUR, s]
        terms[s, EXTERNAL_COST] = station_out[SO_EXTERNAL_KWH, s] * exo[EXO_PRICE, tick]
        if station_f[ST_BESS_KWH, s] > 0.0:
            efficiency = station_f[ST_BESS_EFFICIENCY, s]
            delta_kwh = battery_energy_kwh(station_out[SO_BESS_KW, s], efficiency, dt_h)[0]
            terms[s, STORAGE_VALUE] = delta_kwh * efficiency * exo[EXO_STORAGE_VALUE, tick]
        if cfg[CFG_SOFT_LIMITS] > 0.0:
            excess_kw = abs(station_out[SO_NET_KW, s]) - station_f[ST_GRID_KW, s]
            terms[s, OVERLOAD_PENALTY] = max(excess_kw, 0.0) * dt_h * cfg[CFG_OVERLOAD_PENALTY]
        profit = 0.0
        for i in range(len(SIGNS)):
            profit += SIGNS[i] * terms[s, _FIRST_TERM + i]
        terms[s, PROFIT] = profit


class StationAccounts:
    """Per-station profit of each tick of a single env (see the module docstring):
    ``open(env)`` before ``env.step``, ``close(env)`` after it.

    Args:
        scenario: the env's scenario.
    """

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self._before = np.zeros((L.N_CONN_FIELDS, scenario.n_connectors))
        self._tick = 0
        self._terms = np.zeros((scenario.n_stations, len(COLUMNS)))

    def open(self, env: EVGridEnv) -> None:
        """Keeps the connector state of ``env`` before it steps."""
        self._before[:] = env._conn
        self._tick = int(env._clock[L.CLK_TICK])

    def close(self, env: EVGridEnv) -> np.ndarray:
        """Every station's results, profit terms and profit in the tick just stepped, shape
        (S, len(COLUMNS)) (columns :data:`COLUMNS`); valid until the next call."""
        sc = self.scenario
        station_terms(
            sc.cfg, sc.conn_charger, sc.charger_f, sc.charger_station, sc.station_f, env._exo,
            self._tick, self._before, env._conn, env._station_out, self._terms,
        )  # fmt: skip
        return self._terms
