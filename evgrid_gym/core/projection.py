"""Projection of requested powers onto the physical and contractual limits of the grid.

Rules, applied in this order (each step only ever moves a power towards zero):

1. Battery: each connector's power is clipped to ``[low_kw, high_kw]``, the range its EV can
   take this tick (CC-CV curve at its soc, target soc, V2G floor, EV and charger power). The
   same holds for each station battery (BESS). Always hard: it is physics.
2. Charger: the connectors of a charger share its power: if ``sum(|p|)`` over them exceeds
   the charger's ``max_kw``, all of them are scaled by the same factor. Always hard.
3. Station: the net import ``sum(p) + p_bess`` must lie in ``[-grid_kw, grid_kw]``. In hard
   mode the side that exceeds it is scaled down proportionally: all consuming entries
   (EV charging and BESS charging) when importing too much, all producing entries
   (V2G, BESS discharge) when exporting too much. A BESS discharge therefore lets EVs draw
   more than the grid capacity.
4. Feeder: households plus the stations' net imports must not exceed ``feeder_kw``. In hard
   mode every station's consuming entries are scaled by one common factor, the largest that
   meets the limit, except that a station's consumption never drops below
   ``produce - grid_kw`` (less would make it export more than its grid capacity, so it
   keeps that floor and the others share the cut), and a station the curtailment cannot
   reach (``station_fixed``: its link is down) keeps all of its consumption; households are
   inflexible and always served, so when they (with those stations) alone exceed the limit
   EV and BESS charging drop to zero (or to those floors) and the rest is reported as
   overload.

In soft mode steps 3 and 4 are skipped; whatever exceeds a station or the feeder limit is
reported as overload power, each station's apart from the feeder's (and penalised by the
env).
"""

from evgrid_gym.core.jit import inlined, kernel
from evgrid_gym.core.sort import insertion_sort


def scratch_size(n_chargers, n_stations):
    """Length of the ``scratch`` work space :func:`project_power` needs, float64 entries."""
    return 2 * n_chargers + 6 * n_stations + 1


@kernel
def _scaled(power_kw, consume_factor, produce_factor):
    """``power_kw`` times ``consume_factor`` if it is > 0, else times ``produce_factor``."""
    if power_kw > 0.0:
        return power_kw * consume_factor
    return power_kw * produce_factor


@kernel
def _feeder_factor(consume_kw, floor_kw, target_kw, breaks):
    """Largest ``f`` in [0, 1] with ``sum(max(f * consume, floor)) <= target`` (0 if none).

    The sum is continuous, non-decreasing and piecewise linear in ``f``, with a breakpoint
    where a station's scaled consumption meets its floor; we find the segment that brackets
    ``target`` and interpolate on it. Requires ``floor <= consume``. ``breaks`` is work
    space of shape (S + 1,).
    """
    low_f = 0.0
    low_kw = floor_kw.sum()
    if low_kw >= target_kw:
        return 0.0
    breaks[:] = 1.0
    for s in range(consume_kw.shape[0]):
        if consume_kw[s] > 0.0:
            breaks[s] = min(floor_kw[s] / consume_kw[s], 1.0)
    insertion_sort(breaks)
    for f in breaks:
        total_kw = 0.0
        for s in range(consume_kw.shape[0]):
            total_kw += max(f * consume_kw[s], floor_kw[s])
        if total_kw > target_kw:
            return low_f + (target_kw - low_kw) * (f - low_f) / (total_kw - low_kw)
        low_f = f
        low_kw = total_kw
    return 1.0


@inlined
def project_power(
    conn_kw,
    conn_low_kw,
    conn_high_kw,
    connector_charger,
    charger_max_kw,
    charger_station,
    bess_kw,
    bess_low_kw,
    bess_high_kw,
    station_grid_kw,
    station_fixed,
    household_kw,
    feeder_kw,
    soft,
    station_net_kw,
    station_overload_kw,
    scratch,
):
    """Projects requested powers onto the limits, in place (see the module docstring).

    Args:
        conn_kw: requested connector powers, kW, shape (C,); overwritten with the result.
        conn_low_kw, conn_high_kw: battery limits per connector, kW, shape (C,).
        connector_charger: charger index of each connector, int, shape (C,).
        charger_max_kw: charger power limits, kW, shape (K,).
        charger_station: station index of each charger, int, shape (K,).
        bess_kw: requested BESS powers, kW, shape (S,); overwritten with the result.
        bess_low_kw, bess_high_kw: BESS limits, kW, shape (S,).
        station_grid_kw: station grid capacities, kW, shape (S,).
        station_fixed: > 0 where the feeder's curtailment cannot reach the station (its
            consumption is kept in full), shape (S,).
        household_kw: inflexible household load on the feeder, kW.
        feeder_kw: feeder limit, kW.
        soft: if True, station and feeder limits are not enforced.
        station_net_kw: output, net import per station after projection, kW, shape (S,).
        station_overload_kw: output, power above each station's grid capacity after
            projection (soft mode; 0 in hard mode), kW, shape (S,).
        scratch: work space, float64, shape (>= ``scratch_size(K, S)``,); overwritten.

    Returns:
        Overload power above the feeder limit after projection, kW (>= 0): in soft mode the
        feeder's excess, in hard mode what households (and stations out of reach) alone
        leave above it.
    """
    n_chargers = charger_max_kw.shape[0]
    n_stations = bess_kw.shape[0]
    per_station = scratch[2 * n_chargers :]
    consume_kw = per_station[:n_stations]
    produce_kw = per_station[n_stations : 2 * n_stations]
    consume_factor = per_station[2 * n_stations : 3 * n_stations]
    produce_factor = per_station[3 * n_stations : 4 * n_stations]
    _battery_and_charger_limits(
        conn_kw, conn_low_kw, conn_high_kw, connector_charger, charger_max_kw, bess_kw,
        bess_low_kw, bess_high_kw, scratch[: 2 * n_chargers],
    )  # fmt: skip
    _station_limit(
        conn_kw, connector_charger, charger_station, bess_kw, station_grid_kw, soft, consume_kw,
        produce_kw, consume_factor, produce_factor, station_overload_kw,
    )  # fmt: skip
    consume_kw *= consume_factor
    produce_kw *= produce_factor
    feeder_overload_kw = _feeder_limit(
        consume_kw, produce_kw, consume_factor, station_grid_kw, station_fixed, household_kw,
        feeder_kw, soft, per_station[4 * n_stations :],
    )  # fmt: skip
    for c in range(conn_kw.shape[0]):
        s = charger_station[connector_charger[c]]
        conn_kw[c] = _scaled(conn_kw[c], consume_factor[s], produce_factor[s])
    for s in range(n_stations):
        bess_kw[s] = _scaled(bess_kw[s], consume_factor[s], produce_factor[s])
        station_net_kw[s] = consume_kw[s] - produce_kw[s]
    return feeder_overload_kw


@inlined
def _battery_and_charger_limits(
    conn_kw, conn_low_kw, conn_high_kw, connector_charger, charger_max_kw, bess_kw, bess_low_kw,
    bess_high_kw, scratch,
):  # fmt: skip
    """Steps 1 and 2, in place: every power clipped to its battery's range, then a charger's
    connectors scaled by one factor where their ``|p|`` exceed its power. ``scratch`` has
    shape (>= 2K,)."""
    n_chargers = charger_max_kw.shape[0]
    charger_abs_kw = scratch[:n_chargers]
    charger_factor = scratch[n_chargers : 2 * n_chargers]
    for c in range(conn_kw.shape[0]):
        conn_kw[c] = min(max(conn_kw[c], conn_low_kw[c]), conn_high_kw[c])
    for s in range(bess_kw.shape[0]):
        bess_kw[s] = min(max(bess_kw[s], bess_low_kw[s]), bess_high_kw[s])
    charger_abs_kw[:] = 0.0
    charger_factor[:] = 1.0
    for c in range(conn_kw.shape[0]):
        charger_abs_kw[connector_charger[c]] += abs(conn_kw[c])
    for k in range(n_chargers):
        if charger_abs_kw[k] > charger_max_kw[k]:
            charger_factor[k] = charger_max_kw[k] / charger_abs_kw[k]
    for c in range(conn_kw.shape[0]):
        conn_kw[c] *= charger_factor[connector_charger[c]]


@inlined
def _station_limit(
    conn_kw, connector_charger, charger_station, bess_kw, station_grid_kw, soft, consume_kw,
    produce_kw, consume_factor, produce_factor, station_overload_kw,
):  # fmt: skip
    """Step 3: each station's consumption (``consume_kw``) and production (``produce_kw``)
    after steps 1 and 2, and the factor on the side that exceeds its grid capacity
    (``consume_factor``, ``produce_factor``: 1 where none does); in soft mode the excess as
    ``station_overload_kw`` instead. All shape (S,), overwritten."""
    for s in range(bess_kw.shape[0]):
        consume_kw[s] = max(bess_kw[s], 0.0)
        produce_kw[s] = max(-bess_kw[s], 0.0)
    for c in range(conn_kw.shape[0]):
        s = charger_station[connector_charger[c]]
        consume_kw[s] += max(conn_kw[c], 0.0)
        produce_kw[s] += max(-conn_kw[c], 0.0)
    consume_factor[:] = 1.0
    produce_factor[:] = 1.0
    station_overload_kw[:] = 0.0
    for s in range(bess_kw.shape[0]):
        net_kw = consume_kw[s] - produce_kw[s]
        excess_kw = abs(net_kw) - station_grid_kw[s]
        if excess_kw <= 0.0:
            continue
        if soft:
            station_overload_kw[s] = excess_kw
        elif net_kw > 0.0:
            consume_factor[s] = (station_grid_kw[s] + produce_kw[s]) / consume_kw[s]
        else:
            produce_factor[s] = (station_grid_kw[s] + consume_kw[s]) / produce_kw[s]


@inlined
def _feeder_limit(
    consume_kw, produce_kw, consume_factor, station_grid_kw, station_fixed, household_kw,
    feeder_kw, soft, scratch,
):  # fmt: skip
    """Step 4: the feeder limit over households and station imports. In hard mode one common
    factor on the stations' consumption (``consume_kw`` and ``consume_factor`` scaled in
    place), each station's consumption floored where less would break its export limit, and
    kept whole where the curtailment cannot reach it; returns the overload (what still
    exceeds, or in soft mode all of the excess), kW. ``scratch`` has shape (>= 2S + 1,)."""
    n_stations = consume_kw.shape[0]
    feeder_excess_kw = household_kw + consume_kw.sum() - produce_kw.sum() - feeder_kw
    if feeder_excess_kw <= 0.0:
        return 0.0
    if soft:
        return feeder_excess_kw
    floor_kw = scratch[:n_stations]
    breaks = scratch[n_stations : 2 * n_stations + 1]
    for s in range(n_stations):
        floor_kw[s] = min(max(produce_kw[s] - station_grid_kw[s], 0.0), consume_kw[s])
        if station_fixed[s] > 0.0:
            floor_kw[s] = consume_kw[s]
    target_kw = consume_kw.sum() - feeder_excess_kw
    feeder_factor = _feeder_factor(consume_kw, floor_kw, target_kw, breaks)
    for s in range(n_stations):
        if consume_kw[s] > 0.0:
            factor = max(feeder_factor, floor_kw[s] / consume_kw[s])
            consume_factor[s] *= factor
            consume_kw[s] *= factor
    return max(floor_kw.sum() - target_kw, 0.0)
