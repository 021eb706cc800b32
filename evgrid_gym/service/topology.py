"""The stations a scenario describes, as the service sees them.

A scenario's stations may share a feeder; the service serves each station on its own (one
document, one decision at a time, seeds 002 and 003), so it sees each through a *station
view*: the scenario with that station alone (:func:`station_view`). The feeder limit and the
household load still apply to that station, as in the simulator; stations of one scenario that
share a feeder are not coordinated with each other.
"""

from __future__ import annotations

from evgrid_gym.config import ScenarioConfig, StationConfig, load_scenario
from evgrid_gym.service.models import BessTopology, ChargerTopology, StationTopology


def station_topology(station: StationConfig) -> StationTopology:
    """The station's chargers (``count`` expanded, in config order) and limits.

    Charger ids are ``charger_ids`` or the charger's 1-based position in the station
    (:meth:`~evgrid_gym.config.StationConfig.resolved_charger_ids`); connector ids are
    ``"1"``..``"n"`` within their charger (OCPP EVSE numbering).
    """
    charger_ids = iter(station.resolved_charger_ids())
    chargers = [
        ChargerTopology(
            charger_id=next(charger_ids),
            max_power_kw=group.max_power_kw,
            kind=group.kind,
            efficiency=group.efficiency,
            connector_ids=[str(j + 1) for j in range(group.connectors)],
        )
        for group in station.chargers
        for _ in range(group.count)
    ]
    bess = station.bess
    return StationTopology(
        station_id=station.id,
        grid_capacity_kw=station.grid_capacity_kw,
        bess=None if bess is None else BessTopology(
            capacity_kwh=bess.capacity_kwh, power_kw=bess.power_kw, efficiency=bess.efficiency,
            soc_min=bess.soc_min, soc_max=bess.soc_max,
        ),
        chargers=chargers,
    )  # fmt: skip


def service_day(config: ScenarioConfig) -> ScenarioConfig:
    """The scenario run day by day, as the service runs it: ``episode_ticks`` is one day
    (policies see each day as an episode, the exogenous inputs are drawn per day)."""
    data = config.model_dump()
    data["episode_ticks"] = round(24.0 / config.dt_h)
    return load_scenario(data)


def station_view(config: ScenarioConfig, station: StationConfig) -> ScenarioConfig:
    """``config`` (a :func:`service_day` scenario) with ``station`` as its only station.

    The EVs become synthetic arrivals of the same fleet (the service takes its EVs from
    requests; this keeps trace files from being loaded per station) and scheduled outages
    are dropped (they name components of the whole scenario; the service has no outages). On
    a ``grid.network`` the station keeps its bus, alone: the other stations draw nothing there.
    Outage probabilities and reservations stay, so the observation keeps its blocks (all
    zero in the service), except for a scenario whose only faults are scheduled ones.
    """
    data = config.model_dump()
    data["stations"] = [station.model_dump()]
    data["evs"] = {"source": "synthetic", "fleet": data["evs"]["fleet"]}
    network = data["grid"]["network"]
    if network is not None:  # the station alone on its bus; the others' loads are not seen
        network["stations"] = {station.id: network["stations"][station.id]}
    data["faults"]["scheduled"] = []
    return load_scenario(data)
