"""Seed 003's ``station_config.json`` as a scenario of the package.

The seed's file describes one station (comments removed, as its README asks)::

    {"stationId": "ELECTRA_PARIS_15", "gridCapacity": 400,
     "chargers": [{"id": "CP001", "maxPower": 200, "connectors": 2}],
     "battery": {"initialCapacity": 200, "power": 100}}

A JSON list of such objects describes several stations. Mapping, field by field:

- ``stationId`` -> ``stations[].id`` (and the scenario's ``name`` for one station);
- ``gridCapacity`` (kW) -> ``stations[].grid_capacity_kw``; the feeder limit is their sum;
- ``chargers[].id`` -> ``chargers[].charger_ids`` (the service's ``charger_id``);
- ``chargers[].maxPower`` (kW) -> ``chargers[].max_power_kw`` of a DC charger (Electra);
- ``chargers[].connectors`` -> ``chargers[].connectors`` (connector ids ``"1"``..``"n"``);
- ``battery.initialCapacity`` (kWh) -> ``bess.capacity_kwh``;
- ``battery.power`` (kW) -> ``bess.power_kw``; efficiency and soc limits are the package's
  defaults, and the BESS starts at its lowest soc (the seed starts it empty).

Everything else (15-minute ticks, a fixed supplier price, no households, no wind) is the
package's default scenario; the policy sees it in its observation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evgrid_gym.config import BessConfig, ScenarioConfig, ScenarioError, load_scenario


class _Seed(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class SeedCharger(_Seed):
    id: Annotated[str, Field(min_length=1)]
    maxPower: Annotated[float, Field(gt=0)]  # noqa: N815 (the seed's names)
    connectors: Annotated[int, Field(ge=1)]


class SeedBattery(_Seed):
    initialCapacity: Annotated[float, Field(gt=0)]  # noqa: N815
    power: Annotated[float, Field(gt=0)]


class SeedStation(_Seed):
    stationId: Annotated[str, Field(min_length=1)]  # noqa: N815
    gridCapacity: Annotated[float, Field(gt=0)]  # noqa: N815
    chargers: Annotated[list[SeedCharger], Field(min_length=1)]
    battery: SeedBattery | None = None


def load_station_json(path: str | Path) -> ScenarioConfig:
    """The scenario of a seed 003 ``station_config.json`` (one object or a list of them).

    Raises:
        ScenarioError: unreadable JSON, or a bad field (named with its path and value).
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ScenarioError(f"{path}: cannot read station_config JSON: {err}") from None
    many = isinstance(data, list)
    try:
        seeds = [SeedStation.model_validate(d) for d in (data if many else [data])]
    except ValidationError as err:
        lines = [
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: got {e['input']!r}; {e['msg']}"
            for e in err.errors()
        ]
        raise ScenarioError(f"{path}: invalid station_config\n  " + "\n  ".join(lines)) from None
    if not seeds:
        raise ScenarioError(f"{path}: the list holds no station")
    stations = [_station(seed) for seed in seeds]
    return load_scenario({
        "name": Path(path).stem if many else seeds[0].stationId,
        "description": f"seed 003 station_config {Path(path).name}",
        "grid": {"feeder_limit_kw": sum(seed.gridCapacity for seed in seeds)},
        "households": {"count": 0},
        "stations": stations,
    })  # fmt: skip


def _station(seed: SeedStation) -> dict:
    station = {
        "id": seed.stationId,
        "grid_capacity_kw": seed.gridCapacity,
        "chargers": [
            {"max_power_kw": c.maxPower, "kind": "DC", "connectors": c.connectors,
             "charger_ids": [c.id]}
            for c in seed.chargers
        ],
    }  # fmt: skip
    if seed.battery is not None:
        soc_min = BessConfig.model_fields["soc_min"].default
        station["bess"] = {
            "capacity_kwh": seed.battery.initialCapacity,
            "power_kw": seed.battery.power,
            "initial_soc": soc_min,
        }
    return station


def load_service_scenario(scenario: str) -> ScenarioConfig:
    """A bundled scenario name, a YAML path, or a seed 003 JSON file (``*.json``).

    Raises:
        ScenarioError: see :func:`~evgrid_gym.config.load_scenario` and
            :func:`load_station_json`.
    """
    if str(scenario).endswith(".json"):
        return load_station_json(scenario)
    return load_scenario(scenario)
