"""The observation, defined once: a table of blocks (:data:`BLOCKS`) and the kernel that
writes them (:func:`write_observation`).

The observation is a flat float32 vector, block after block in the order of :data:`BLOCKS`,
each block feature-major (all connectors' soc, then all connectors' energy needed, ...). Its
length, the offsets the kernel writes at (``Static.obs_offsets``), its bounds and the named
views of :meth:`evgrid_gym.Scenario.unpack` all come from this table
(:mod:`evgrid_gym.observation`), and so does the README's table (a test compares them).

Sizes are written in the scenario's dimensions: ``C`` connectors, ``S`` stations, ``K``
chargers, ``F`` forecast ticks (``observation.forecast_ticks``), ``H`` hourly reservation
buckets (``reservation.observation_hours``; 0 without reservations). A block with ``when``
exists only in scenarios that turn that feature on (``"reservations"``, ``"faults"``,
``"network"``: ``grid.network``). Bounds are numbers or names of scenario
quantities (``evgrid_gym.observation.limits``), a leading ``-`` negating one.

Adding an observation feature: one row here and one block in :func:`write_observation`; the
other files it takes are listed in ``docs/architecture.md`` ("How to add").
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from evgrid_gym.core.jit import inlined
from evgrid_gym.core.layout import (
    CFG_DT_H,
    CFG_FORECAST_TICKS,
    CFG_RESERVATION_HOURS,
    CFG_TICKS_PER_DAY,
    CH_EFFICIENCY,
    CLK_NEXT_EV,
    CLK_TICK,
    CN_BATTERY_KWH,
    CN_DEPARTURE,
    CN_OCCUPIED,
    CN_SOC,
    CN_SOC_TARGET,
    EV_PLANNED_ARRIVAL,
    EXO_HOUSEHOLD_KW,
    EXO_PRICE,
    EXO_RENEWABLE_KW,
    RES_CONFIRMED,
    RS_CONNECTOR,
    RS_STATUS,
    ST_GRID_KW,
)
from evgrid_gym.core.limits import bess_limits_kw, connector_limits_kw
from evgrid_gym.core.network import renewables_kw, station_grid_state


class Block(NamedTuple):
    """One block of the observation."""

    name: str  # its named view in ``Scenario.unpack``
    size: str  # its length in C, S, K, F, H (sums of products: "F+1", "S*H", "K+S+1")
    low: float | str  # lower bound: a number or a scenario quantity
    high: float | str  # upper bound
    unit: str
    description: str
    when: str | None = None  # "reservations", "faults" or "network": only where they are on


BLOCKS = (
    Block("occupied", "C", 0.0, 1.0, "0/1", "connector occupied"),
    Block("soc", "C", 0.0, 1.0, "fraction", "EV soc"),
    Block("energy_needed_kwh", "C", 0.0, "max_battery_kwh", "kWh",
          "energy still needed to the target soc"),
    Block("ticks_to_departure", "C", 0.0, "episode_ticks", "ticks", "ticks to departure"),
    Block("max_power_kw", "C", 0.0, "connector_rated_kw", "kW",
          "max average power the EV can take this tick (CC-CV; 0 while its charger is down)"),
    Block("bess_soc", "S", 0.0, 1.0, "fraction", "BESS soc (0 without BESS)"),
    Block("headroom_kw", "S", "-station_rated_kw", "station_supply_kw", "kW",
          "station headroom: grid capacity + available BESS discharge (none while the "
          "station's link is down) - EVs' max power"),
    Block("time_sin", "1", -1.0, 1.0, "-", "sin of the time of day"),
    Block("time_cos", "1", -1.0, 1.0, "-", "cos of the time of day"),
    Block("price_eur_per_kwh", "F+1", "price_low", "price_high", "EUR/kWh",
          "external price now and the next F ticks"),
    Block("renewable_kw", "F+1", 0.0, "renewable_high_kw", "kW",
          "own renewable output now and the next F ticks (before turbine outages)"),
    Block("household_kw", "1", 0.0, "household_high_kw", "kW", "household load now"),
    Block("reservations", "S*H", 0.0, "reservations_per_hour", "count",
          "confirmed reservations per station arriving 0-1, 1-2, ... H hours ahead "
          "(station-major)", "reservations"),
    Block("outage", "K+S+1", 0.0, 1.0, "0/1, fraction",
          "chargers down, station links down, share of wind capacity down", "faults"),
    Block("bus_voltage_pu", "S", "bus_voltage_low_pu", "bus_voltage_high_pu", "pu",
          "voltage at each station's bus: LinDistFlow of the households and renewables now "
          "with the stations at their power of the last tick", "network"),
    Block("grid_headroom_kva", "S", "grid_headroom_low_kva", "grid_headroom_high_kva", "kVA",
          "least headroom (rating x voltage - flow) of the lines and transformer between "
          "the station and the upstream grid, same power flow", "network"),
)  # fmt: skip
"""The blocks of the observation, in order."""

OBS = {block.name: i for i, block in enumerate(BLOCKS)}
N_OBS_BLOCKS = len(BLOCKS)
OBS_OCCUPIED = OBS["occupied"]
OBS_SOC = OBS["soc"]
OBS_ENERGY_NEEDED = OBS["energy_needed_kwh"]
OBS_TICKS_TO_DEPARTURE = OBS["ticks_to_departure"]
OBS_MAX_POWER = OBS["max_power_kw"]
OBS_BESS_SOC = OBS["bess_soc"]
OBS_HEADROOM = OBS["headroom_kw"]
OBS_TIME_SIN = OBS["time_sin"]
OBS_TIME_COS = OBS["time_cos"]
OBS_PRICE = OBS["price_eur_per_kwh"]
OBS_RENEWABLE = OBS["renewable_kw"]
OBS_HOUSEHOLD = OBS["household_kw"]
OBS_RESERVATIONS = OBS["reservations"]
OBS_OUTAGE = OBS["outage"]
OBS_BUS_VOLTAGE = OBS["bus_voltage_pu"]
OBS_GRID_HEADROOM = OBS["grid_headroom_kva"]


def block_size(size: str, dims: dict[str, int]) -> int:
    """The length of a block of size ``size`` (e.g. ``"K+S+1"``) for dimensions ``dims``."""
    return sum(math.prod(dims.get(f, 0) if f.isalpha() else int(f) for f in term.split("*"))
               for term in size.split("+"))  # fmt: skip


def block_offsets(dims: dict[str, int], features: set[str]) -> np.ndarray:
    """Where each block starts, int64, shape (N_OBS_BLOCKS + 1,), the last entry the length.

    Args:
        dims: ``C``, ``S``, ``K``, ``F``, ``H`` of the scenario.
        features: the ``when`` features the scenario has (``"reservations"``, ``"faults"``,
            ``"network"``).
    """
    sizes = [
        block_size(b.size, dims) if b.when is None or b.when in features else 0 for b in BLOCKS
    ]
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


@inlined
def write_observation(static, episode, state, obs, station_kw, scratch, reservations, network):
    """Writes the observation of the state at the start of the tick into ``obs`` (float32),
    block by block at ``static.obs_offsets`` (:data:`BLOCKS` says what each holds).
    ``station_kw``: each station's net import in the last tick, kW, shape (S,) (the network
    blocks' power flow). ``scratch`` is float64 work space of shape (>= S +
    ``core.network.workspace_size(B)``,). ``reservations``, ``network``: the switches of
    :meth:`~evgrid_gym.core.state.Static.switches` (None: no such blocks to write).
    """
    at, cfg, station_f, charger_f = (
        static.obs_offsets,
        static.cfg,
        static.station_f,
        static.charger_f,
    )
    connector_charger, charger_station = static.connector_charger, static.charger_station
    conn, bess_soc, exo, outage = state.conn, state.bess_soc, episode.exo, episode.outage
    tick = state.clock[CLK_TICK]
    n_ch, n_st = charger_f.shape[1], station_f.shape[1]
    headroom = scratch[:n_st]
    bess_at, headroom_at = at[OBS_BESS_SOC], at[OBS_HEADROOM]
    for s in range(n_st):
        low, _ = bess_limits_kw(cfg, station_f, bess_soc, s)
        if outage[tick, n_ch + s] > 0.0:  # link down: the BESS idles this tick
            low = 0.0
        headroom[s] = station_f[ST_GRID_KW, s] - low
        obs[bess_at + s] = bess_soc[s]
    occupied_at, soc_at, needed_at = at[OBS_OCCUPIED], at[OBS_SOC], at[OBS_ENERGY_NEEDED]
    departure_at, power_at = at[OBS_TICKS_TO_DEPARTURE], at[OBS_MAX_POWER]
    for c in range(conn.shape[1]):
        k = connector_charger[c]
        _, high = connector_limits_kw(cfg, conn, c, charger_f[CH_EFFICIENCY, k])
        if outage[tick, k] > 0.0:
            high = 0.0
        obs[occupied_at + c] = conn[CN_OCCUPIED, c]
        obs[soc_at + c] = conn[CN_SOC, c]
        obs[needed_at + c] = (
            max(conn[CN_SOC_TARGET, c] - conn[CN_SOC, c], 0.0) * conn[CN_BATTERY_KWH, c]
        )
        obs[departure_at + c] = max(conn[CN_DEPARTURE, c] - tick, 0.0) * conn[CN_OCCUPIED, c]
        obs[power_at + c] = high
        headroom[charger_station[k]] -= high
    for s in range(n_st):
        obs[headroom_at + s] = headroom[s]
    # time of day, the price and renewable forecasts, the household load
    phase = 2.0 * math.pi * (tick % cfg[CFG_TICKS_PER_DAY]) / cfg[CFG_TICKS_PER_DAY]
    obs[at[OBS_TIME_SIN]] = math.sin(phase)
    obs[at[OBS_TIME_COS]] = math.cos(phase)
    price_at, renewable_at = at[OBS_PRICE], at[OBS_RENEWABLE]
    for j in range(int(cfg[CFG_FORECAST_TICKS]) + 1):
        obs[price_at + j] = exo[EXO_PRICE, tick + j]
        obs[renewable_at + j] = exo[EXO_RENEWABLE_KW, tick + j]
    obs[at[OBS_HOUSEHOLD]] = exo[EXO_HOUSEHOLD_KW, tick]
    n_hours = int(cfg[CFG_RESERVATION_HOURS])
    if reservations is not None and n_hours > 0:
        _write_reservations(
            cfg, connector_charger, charger_station, episode.ev, state.res,
            state.clock[CLK_NEXT_EV], tick, n_st, n_hours, obs[at[OBS_RESERVATIONS] :],
        )  # fmt: skip
    outage_at = at[OBS_OUTAGE]
    for r in range(at[OBS_OUTAGE + 1] - outage_at):
        obs[outage_at + r] = outage[tick, r]
    voltage_at, headroom_at = at[OBS_BUS_VOLTAGE], at[OBS_GRID_HEADROOM]
    if network is not None:
        wind_kw, pv_kw = renewables_kw(exo, outage, tick)
        station_grid_state(
            static.bus_parent, static.branch_f, static.bus_f, static.net_cfg, station_f,
            exo[EXO_HOUSEHOLD_KW, tick], wind_kw, pv_kw, station_kw,
            outage[tick, n_ch : n_ch + n_st], obs[voltage_at : voltage_at + n_st],
            obs[headroom_at : headroom_at + n_st], scratch[n_st:],
        )  # fmt: skip


@inlined
def _write_reservations(
    cfg, connector_charger, charger_station, ev, res, first_ev, tick, n_st, n_hours, counts
):  # fmt: skip
    """Confirmed reservations of station s whose planned arrival is h..h+1 hours ahead
    (overdue ones in hour 0), station-major, into ``counts[: n_st * n_hours]``; EVs from
    ``first_ev`` on (the earlier ones have arrived)."""
    counts[: n_st * n_hours] = 0.0
    for e in range(first_ev, ev.shape[1]):
        if res[RS_STATUS, e] == RES_CONFIRMED:
            hour = int(max(ev[EV_PLANNED_ARRIVAL, e] - tick, 0.0) * cfg[CFG_DT_H])
            if hour < n_hours:
                s = charger_station[connector_charger[int(res[RS_CONNECTOR, e])]]
                counts[s * n_hours + hour] += 1.0
