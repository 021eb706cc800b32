"""``grid.network`` of a scenario: the community placed on a radial distribution network.

Every household group, wind turbine entry, the PV and every station names the bus it is
connected to; each draws (or feeds) at a constant power factor, ``q = p * tan(acos(pf))``
(lagging while it consumes; a station exporting at ``pf < 1`` also feeds reactive power).
The household load is one series, split over the groups by their household counts; the wind
output is split over the turbine entries by their installed power (exact where they share a
turbine type and hub height). Defaults: households
at 0.93, the power factor of SimBench's household loads (``q / p = 0.395``); stations at 1.0
(EV chargers and BESS inverters run at unity power factor: IEC 61851 AC charging through the
EV's active-front-end on-board charger, DC chargers and BESS through grid-forming converters);
turbines always at 1.0 (no reactive power control modelled). Voltage limits default to
EN 50160's +-10 % band around the nominal voltage.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, model_validator

from evgrid_gym.grid.description import NetworkDescription, StrictModel, read_description

PowerFactor = Annotated[float, Field(gt=0, le=1)]


class HouseholdGroup(StrictModel):
    bus: str
    count: Annotated[int, Field(ge=1)]
    """Households on this bus; they draw ``count / households.count`` of the household load."""


class NetworkConfig(StrictModel):
    """The network and where the community sits on it (module docstring)."""

    description: Annotated[NetworkDescription, BeforeValidator(read_description)]
    """A bundled network name, a JSON/YAML file, or the description inline."""
    households: list[HouseholdGroup] = []
    """Household groups; their counts add up to ``households.count``."""
    turbines: list[str] = []
    """The bus of each ``wind.turbines`` entry, in order."""
    pv: str | None = None
    """The bus of the PV (``pv.installed_kw`` > 0)."""
    stations: dict[str, str] = {}
    """Station id -> bus, for every station."""
    household_power_factor: PowerFactor = 0.93
    station_power_factor: PowerFactor = 1.0
    voltage_min_pu: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.9
    voltage_max_pu: Annotated[float, Field(gt=1.0, lt=1.5)] = 1.1

    @model_validator(mode="after")
    def _known_buses(self):
        buses = set(self.description.buses)
        placed = [(f"households[{i}].bus", g.bus) for i, g in enumerate(self.households)]
        placed += [(f"turbines[{i}]", bus) for i, bus in enumerate(self.turbines)]
        placed += [("pv", self.pv)] if self.pv is not None else []
        placed += [(f"stations.{station}", bus) for station, bus in self.stations.items()]
        for where, bus in placed:
            if bus not in buses:
                raise ValueError(
                    f"{where}: got {bus!r}; not a bus of network {self.description.name!r} "
                    f"(buses: {_preview(self.description.buses)})"
                )
        hv_bus = self.description.transformer.hv_bus
        for station, bus in self.stations.items():
            if bus == hv_bus:
                raise ValueError(
                    f"stations.{station}: got {bus!r}, the transformer's hv_bus (the upstream "
                    "grid); a station must be on a bus below the transformer"
                )
        return self

    def check_community(
        self, station_ids: list[str], n_turbine_entries: int, n_households: int, has_pv: bool
    ) -> None:
        """Checks that every station, turbine entry, household and the PV has exactly one bus.

        Raises:
            ValueError: naming the ``grid.network`` field and what the scenario has.
        """
        unknown = sorted(set(self.stations) - set(station_ids))
        if unknown:
            raise ValueError(
                f"grid.network.stations: {unknown} not station ids; stations: {station_ids}"
            )
        missing = [s for s in station_ids if s not in self.stations]
        if missing:
            raise ValueError(f"grid.network.stations: no bus for station(s) {missing}")
        if len(self.turbines) != n_turbine_entries:
            raise ValueError(
                f"grid.network.turbines: got {len(self.turbines)} bus(es); wind.turbines has "
                f"{n_turbine_entries} entries and each needs one"
            )
        if has_pv != (self.pv is not None):
            raise ValueError(
                "grid.network.pv: a bus is needed exactly when pv.installed_kw > 0; got "
                f"{self.pv!r} with {'' if has_pv else 'no '}PV installed"
            )
        placed = sum(g.count for g in self.households)
        if placed != n_households:
            raise ValueError(
                f"grid.network.households: got {placed} households placed; households.count is "
                f"{n_households}"
            )


def _preview(names: list[str], n: int = 6) -> str:
    shown = ", ".join(repr(name) for name in names[:n])
    return shown + (f", ... ({len(names)} in all)" if len(names) > n else "")
