"""The station service's data: what it stores, what it accepts and what it answers.

One :class:`StationDocument` per station is the whole stored state of that station (seed
002's document storage); closed sessions are kept apart, in the past-session log. The same
models describe the HTTP bodies (FastAPI builds the OpenAPI schema at ``/docs`` from them).

Units follow the field names: power in kW, energy in kWh, ``soc`` a 0..1 fraction; times are
RFC 3339 with an offset (stored in UTC). Powers are positive when charging.
"""

from __future__ import annotations

import datetime
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    Strict,
    model_validator,
)

# Numbers must be JSON numbers (no "5" strings, no booleans) and finite.
Number = Annotated[float, Strict()]
PositiveNumber = Annotated[Number, Field(gt=0)]
NonNegativeNumber = Annotated[Number, Field(ge=0)]
Fraction = Annotated[Number, Field(ge=0, le=1)]
Id = Annotated[str, Strict(), Field(min_length=1, max_length=64)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


# --- topology (from the scenario) --------------------------------------------------------------


class ChargerTopology(_Model):
    """A charger: its connectors share ``max_power_kw`` (an OCPP charging station whose
    EVSEs are the connectors, numbered 1..n in ``connector_ids`` order)."""

    charger_id: str
    max_power_kw: float
    kind: str = Field(description="AC or DC")
    efficiency: float = Field(description="grid -> battery efficiency, (0, 1]")
    connector_ids: list[str]


class BessTopology(_Model):
    capacity_kwh: float
    power_kw: float
    efficiency: float
    soc_min: float
    soc_max: float


class StationTopology(_Model):
    """What ``GET /stations/{station_id}`` answers: the station's equipment and limits."""

    station_id: str
    grid_capacity_kw: float
    bess: BessTopology | None
    chargers: list[ChargerTopology]

    def connectors(self) -> list[tuple[str, str]]:
        """``(charger_id, connector_id)`` of every connector, chargers in order."""
        return [(ch.charger_id, c) for ch in self.chargers for c in ch.connector_ids]

    def charger(self, charger_id: str) -> ChargerTopology | None:
        return next((ch for ch in self.chargers if ch.charger_id == charger_id), None)


# --- requests ----------------------------------------------------------------------------------


class SessionCreate(_Model):
    """``POST /stations/{station_id}/sessions``: an EV plugged in.

    ``soc`` and ``battery_capacity_kwh`` come together or not at all. With them the session
    follows the two-stage CC-CV charging curve and stops at ``soc + energy_requested_kwh /
    battery_capacity_kwh`` (full without ``energy_requested_kwh``). Without them the charging
    curve is unknown (seed 002): the EV takes whatever is allocated, up to
    ``energy_requested_kwh`` if given, until it leaves.
    """

    charger_id: Id
    connector_id: Id
    vehicle_max_power_kw: PositiveNumber = Field(description="the EV's charging limit, kW")
    soc: Fraction | None = Field(None, description="state of charge at plug-in, 0..1")
    battery_capacity_kwh: PositiveNumber | None = None
    energy_requested_kwh: NonNegativeNumber | None = Field(
        None, description="battery energy the driver wants, kWh"
    )
    departure: AwareDatetime | None = Field(None, description="announced departure, RFC 3339")
    transaction_id: Annotated[str, Strict(), Field(min_length=1, max_length=36)] | None = Field(
        None,
        description="the OCPP transactionId of the session (default: the session id), used in "
        "its TxProfile",
    )

    @model_validator(mode="after")
    def _battery(self):
        if (self.soc is None) != (self.battery_capacity_kwh is None):
            raise ValueError(
                "soc, battery_capacity_kwh: give both or neither; got soc="
                f"{self.soc}, battery_capacity_kwh={self.battery_capacity_kwh}"
            )
        requested = self.energy_requested_kwh
        if self.soc is not None and requested is not None:
            room_kwh = (1.0 - self.soc) * self.battery_capacity_kwh
            if requested > room_kwh:
                raise ValueError(
                    f"energy_requested_kwh: got {requested}; the battery takes at most "
                    f"(1 - soc) x battery_capacity_kwh = {room_kwh:g} kWh"
                )
        return self


# --- stored state ------------------------------------------------------------------------------


class Session(_Model):
    """An active session as stored and answered; ``soc`` is None when unknown."""

    session_id: str
    number: int = Field(description="plug-in order at the station, from 0")
    charger_id: str
    connector_id: str
    transaction_id: str
    vehicle_max_power_kw: float
    soc_start: float | None
    soc: float | None
    battery_capacity_kwh: float | None
    energy_requested_kwh: float | None
    departure: AwareDatetime | None
    started_at: AwareDatetime
    delivered_kwh: float = Field(description="battery energy delivered so far, kWh")
    allocated_power_kw: float = Field(description="grid power allocated since the last decision")


class ClosedSession(Session):
    """A session in the past-session log."""

    closed_at: AwareDatetime


class StationDocument(_Model):
    """The stored state of one station: valid at ``as_of``; the allocations were decided at
    ``decided_at`` (<= ``as_of``) and hold until the next decision."""

    station_id: str
    as_of: AwareDatetime
    decided_at: AwareDatetime
    bess_soc: float | None
    bess_power_kw: float = Field(description="+ charging, - discharging")
    next_number: int
    sessions: list[Session]

    def session(self, session_id: str) -> Session | None:
        return next((s for s in self.sessions if s.session_id == session_id), None)

    def on_connector(self, charger_id: str, connector_id: str) -> Session | None:
        return next(
            (s for s in self.sessions
             if s.charger_id == charger_id and s.connector_id == connector_id),
            None,
        )  # fmt: skip


# --- answers -----------------------------------------------------------------------------------


class BessStatus(_Model):
    soc: float
    power_kw: float = Field(description="+ charging, - discharging (boost)")


class StationStatus(_Model):
    """``GET /stations/{station_id}/status``: the station now."""

    station_id: str
    as_of: datetime.datetime
    decided_at: datetime.datetime = Field(description="time of the last decision")
    grid_capacity_kw: float
    ev_power_kw: float = Field(description="sum of the sessions' allocated power")
    grid_power_kw: float = Field(description="net import at the grid connection")
    free_power_kw: float = Field(description="grid capacity - net import")
    bess: BessStatus | None
    boosted_session_ids: list[str] = Field(
        description="sessions the BESS discharge serves (seed 003's boost sessions): with "
        "sessions taken in plug-in order, those the net grid import does not cover in full"
    )
    sessions: list[Session]


class SessionChange(_Model):
    """The answer to a plug-in (201) or plug-out (200): the session and the station after
    the new decision (every session's new allocation)."""

    session: ClosedSession | Session
    station: StationStatus


class SessionPage(_Model):
    """A page of sessions (the past-session log oldest first, or the active ones);
    ``next_cursor`` fetches the next page."""

    sessions: list[SerializeAsAny[Session]]
    next_cursor: str | None
