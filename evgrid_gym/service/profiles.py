"""A station's allocation as OCPP 2.0.1 ``SetChargingProfile`` requests.

Each charger is an OCPP charging station whose EVSEs are its connectors (numbered 1..n, each
EVSE charges one EV at a time while the charger's power is shared, as in the simulator). For
each charger the service gives

- at EVSE 0, a ``ChargingStationMaxProfile``: the charger's share of the station, the sum of
  its connectors' allocations; OCPP 2.0.1 forbids a CSMS to set
  ``ChargingStationExternalConstraints`` (requirement K01.FR.22: charging stations reject it),
  so the station limit travels as the charger's maximum profile;
- at each EVSE with a session, a ``TxProfile`` for its transaction (the session's
  ``transaction_id``) with the session's allocation.

Limits are in W, rounded down to 0.1 W (the schema's one decimal); schedules are ``Absolute``,
start at the decision time and hold until replaced. Profile ids are fixed per EVSE (1 at EVSE
0, 1 + n at EVSE n), so a new decision replaces the previous profiles. Every payload is
checked against the ``SetChargingProfileRequest`` JSON schema of OCPP 2.0.1 shipped with the
``ocpp`` package, so an OCPP back end can forward it unchanged.
"""

from __future__ import annotations

import datetime
import math

from ocpp.messages import MessageType, get_validator

from evgrid_gym.service.models import StationStatus, StationTopology

OCPP_VERSION = "2.0.1"
ACTION = "SetChargingProfile"


def charging_profiles(topology: StationTopology, status: StationStatus) -> list[dict]:
    """The requests that put ``status``'s allocation into effect, chargers in order.

    Returns:
        One ``{"charger_id", "evse_id", "action": "SetChargingProfile", "payload"}`` per
        profile.

    Raises:
        jsonschema.ValidationError: a payload breaks the OCPP schema (a bug).
    """
    start = status.decided_at
    by_connector = {(s.charger_id, s.connector_id): s for s in status.sessions}
    messages = []
    for charger in topology.chargers:
        sessions = [
            (evse, by_connector.get((charger.charger_id, connector)))
            for evse, connector in enumerate(charger.connector_ids, start=1)
        ]
        charger_kw = sum(s.allocated_power_kw for _, s in sessions if s is not None)
        messages.append(_message(charger.charger_id, 0, "ChargingStationMaxProfile",
                                 charger_kw, start))  # fmt: skip
        for evse, session in sessions:
            if session is not None:
                messages.append(_message(charger.charger_id, evse, "TxProfile",
                                         session.allocated_power_kw, start,
                                         session.transaction_id))  # fmt: skip
    validator = get_validator(MessageType.Call, ACTION, OCPP_VERSION)
    for message in messages:
        validator.validate(message["payload"])
    return messages


def _message(
    charger_id: str,
    evse_id: int,
    purpose: str,
    power_kw: float,
    start: datetime.datetime,
    transaction_id: str | None = None,
) -> dict:
    profile_id = 1 + evse_id
    profile = {
        "id": profile_id,
        "stackLevel": 0,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [{
            "id": profile_id,
            "startSchedule": start.astimezone(datetime.timezone.utc).isoformat().replace(
                "+00:00", "Z"
            ),
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": math.floor(max(power_kw, 0.0) * 1e4) / 10.0}
            ],
        }],
    }  # fmt: skip
    if transaction_id is not None:
        profile["transactionId"] = transaction_id
    return {
        "charger_id": charger_id,
        "evse_id": evse_id,
        "action": ACTION,
        "payload": {"evseId": evse_id, "chargingProfile": profile},
    }
