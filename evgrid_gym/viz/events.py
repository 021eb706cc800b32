"""What happened in a tick, as lines of a log: reservations (seed 000's contract net) and outages.

Read from two :class:`~evgrid_gym.viz.state.FrameState` s: a reservation whose status changed
(``core.layout.RES_*``) and a component whose outage row changed.
"""

from __future__ import annotations

from evgrid_gym.core import layout as L
from evgrid_gym.viz.state import FrameState

_ANSWERS = {
    L.RES_CONFIRMED: "confirmed",
    L.RES_REJECTED: "rejected",
    L.RES_SERVED: "served",
    L.RES_EXPIRED: "no_show",
    L.RES_CANCELLED: "cancelled",
}


def connector_name(state: FrameState, c: int) -> str:
    """``north #3`` (the station and the connector's number in it), or its id when it has one."""
    sc = state.scenario
    if sc.connector_ids[c] is not None:
        return str(sc.connector_ids[c])
    s = int(sc.connector_station[c])
    number = c - int(sc.station_connectors[:s].sum()) + 1
    return f"{sc.config.stations[s].id} #{number}"


def _reservation_text(state: FrameState, kind: str, e: int) -> str:
    res = state.reservations
    if kind == "request":
        return f"EV {e} asks the stations for a connector"
    if kind == "confirmed":
        return (
            f"EV {e} reserved {connector_name(state, int(res[L.RS_CONNECTOR, e]))}: "
            f"{res[L.RS_ENERGY_KWH, e]:.1f} kWh offered at {res[L.RS_PRICE, e]:.3f} EUR/kWh"
        )
    return {
        "rejected": f"EV {e}: no acceptable offer, request rejected",
        "served": f"EV {e} plugged into its reserved connector",
        "no_show": f"EV {e} did not come: reservation released (no-show)",
        "cancelled": f"EV {e}: reserved charger down and no other offer, reservation cancelled",
    }[kind]


def _reservation_events(before: FrameState, after: FrameState) -> list[tuple[str, str]]:
    old, new = before.reservations[L.RS_STATUS], after.reservations[L.RS_STATUS]
    events = []
    if old.shape != new.shape:  # another episode
        return events
    moved = before.reservations[L.RS_CONNECTOR] != after.reservations[L.RS_CONNECTOR]
    for e in range(new.shape[0]):
        if old[e] == new[e] and not (new[e] == L.RES_CONFIRMED and moved[e]):
            continue
        if old[e] == L.RES_NONE:
            events.append(("request", _reservation_text(after, "request", e)))
        kind = _ANSWERS.get(float(new[e]))
        if kind is not None:
            events.append((kind, _reservation_text(after, kind, e)))
    return events


def _outage_events(before: FrameState, after: FrameState) -> list[tuple[str, str]]:
    sc = after.scenario
    events = []
    for k in range(sc.n_chargers):
        if before.charger_down[k] != after.charger_down[k]:
            s = sc.config.stations[int(sc.charger_station[k])].id
            state = "down" if after.charger_down[k] else "back up"
            events.append(("outage" if after.charger_down[k] else "repair",
                           f"charger {k} of {s} {state}"))  # fmt: skip
    for s, station in enumerate(sc.config.stations):
        if before.link_down[s] != after.link_down[s]:
            down = bool(after.link_down[s])
            text = "link down: fallback profile" if down else "link back up"
            events.append(("outage" if down else "repair", f"{station.id} {text}"))
    if before.wind_share_down != after.wind_share_down:
        share = after.wind_share_down
        kind = "outage" if share > before.wind_share_down else "repair"
        events.append((kind, f"turbines down: {share:.0%} of the wind capacity"))
    return events


def tick_events(before: FrameState, after: FrameState) -> list[dict[str, str]]:
    """The events between ``before`` and ``after`` (a tick), each ``{"time", "kind", "text"}``.

    Kinds: ``request``, ``confirmed``, ``rejected``, ``served``, ``no_show``, ``cancelled``
    (reservations; a confirmed reservation moved to another connector is ``confirmed`` again),
    ``outage`` and ``repair`` (chargers, station links, turbines).
    """
    time = after.clock()
    pairs = _reservation_events(before, after) + _outage_events(before, after)
    return [{"time": time, "kind": kind, "text": text} for kind, text in pairs]
