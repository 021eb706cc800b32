"""Loader of real EV charging sessions in the ACN-Data formats.

ACN-Data: Z. J. Lee, T. Li and S. H. Low, "ACN-Data: Analysis and Applications of an Open EV
Charging Dataset", ACM e-Energy 2019 (CC BY 4.0). Two formats are read:

- the CSV(.gz) export (``arrival``, ``departure``, ``requested_energy (kWh)``,
  ``delivered_energy (kWh)``, ``station_id``, ``session_id``, ``estimated_departure``,
  ``claimed``), timestamps ISO 8601 with a UTC offset;
- the ACN-Data API JSON that users download themselves: ``{"_items": [{"connectionTime",
  "disconnectTime", "kWhDelivered", "spaceID", "stationID", "sessionID", "userInputs":
  [{"kWhRequested", "requestedDeparture", ...}] | null}, ...]}``, timestamps RFC 1123 in GMT.

Sessions without a driver request (``claimed`` false, or no ``userInputs``) get
``energy_requested_kwh := energy_delivered_kwh`` and ``estimated_departure := departure``, the
ACN-Sim convention.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from evgrid_gym.data.errors import (
    DataFileError,
    finite_numbers,
    parse_times,
    present,
    read_csv,
    reading,
    require_columns,
    strict_bools,
)

ACN_TIMEZONE = "America/Los_Angeles"  # Caltech, JPL and Office001 sites
SESSION_COLUMNS = (
    "session_id",
    "station_id",
    "arrival",
    "departure",
    "estimated_departure",
    "energy_requested_kwh",
    "energy_delivered_kwh",
    "claimed",
)
_CSV_COLUMNS = {
    "arrival": "arrival",
    "departure": "departure",
    "requested_energy (kWh)": "energy_requested_kwh",
    "delivered_energy (kWh)": "energy_delivered_kwh",
    "station_id": "station_id",
    "session_id": "session_id",
}


def load_acn_sessions(path, timezone: str = ACN_TIMEZONE) -> pd.DataFrame:
    """Loads ACN sessions from a CSV(.gz) export or an ACN-Data API JSON file.

    Args:
        path: ``.csv``, ``.csv.gz`` or ``.json`` file.
        timezone: the site's time zone; timestamps are converted to it.

    Returns:
        One row per session, sorted by arrival, columns :data:`SESSION_COLUMNS`: ids as str,
        ``arrival``/``departure``/``estimated_departure`` tz-aware timestamps,
        ``energy_*_kwh`` float kWh (>= 0), ``claimed`` bool.

    Raises:
        DataFileError: missing, truncated or corrupt file, missing column or field, empty
            file, a row cut off, wrong delimiter, unparsable timestamp, departure not after
            arrival, negative or NaN energy, a missing id, a ``claimed`` other than
            True/False, a JSON item or request that is not an object; the message names the
            file, the row (line in a CSV, item number in a JSON) and the column.
    """
    path = Path(path)
    if path.suffix.lower() == ".json":
        raw, first_row = _read_api_json(path), 1
    else:
        raw, first_row = _read_csv(path), 2
    lines = np.arange(len(raw)) + first_row
    columns = raw.attrs["columns"]  # our column -> the file's name for it, for error messages
    sessions = pd.DataFrame(
        {
            "session_id": present(path, raw["session_id"], columns["session_id"], lines),
            "station_id": present(path, raw["station_id"], columns["station_id"], lines),
            "arrival": _local(path, raw["arrival"], columns["arrival"], lines, timezone),
            "departure": _local(path, raw["departure"], columns["departure"], lines, timezone),
            "energy_requested_kwh": finite_numbers(
                path, raw["energy_requested_kwh"], columns["energy_requested_kwh"], lines
            ),
            "energy_delivered_kwh": finite_numbers(
                path, raw["energy_delivered_kwh"], columns["energy_delivered_kwh"], lines
            ),
            "claimed": strict_bools(path, raw["claimed"], "claimed", lines),
        }
    )
    estimated = raw["estimated_departure"].where(sessions["claimed"], None)
    sessions["estimated_departure"] = sessions["departure"]
    has_estimate = estimated.notna().to_numpy()
    if has_estimate.any():
        sessions.loc[has_estimate, "estimated_departure"] = _local(
            path,
            estimated[has_estimate],
            columns["estimated_departure"],
            lines[has_estimate],
            timezone,
        ).to_numpy()
    unclaimed = ~sessions["claimed"]
    delivered = sessions.loc[unclaimed, "energy_delivered_kwh"]
    sessions.loc[unclaimed, "energy_requested_kwh"] = delivered
    late = (sessions["departure"] <= sessions["arrival"]).to_numpy()
    if late.any():
        i = int(late.nonzero()[0][0])
        raise DataFileError(
            path,
            f"departure {sessions['departure'].iloc[i]} is not after arrival "
            f"{sessions['arrival'].iloc[i]}",
            row=int(lines[i]),
            column=columns["departure"],
        )
    return (
        sessions.loc[:, SESSION_COLUMNS]
        .sort_values("arrival", kind="stable")
        .reset_index(drop=True)
    )


def _local(path, values: pd.Series, column: str, lines, timezone: str) -> pd.Series:
    times = parse_times(path, values, column, lines, utc=True, format="mixed")
    return times.dt.tz_convert(timezone)


def _read_csv(path: Path) -> pd.DataFrame:
    frame = read_csv(path, dtype={"station_id": str, "session_id": str})
    require_columns(path, frame, _CSV_COLUMNS)
    raw = frame.rename(columns=_CSV_COLUMNS)
    raw["claimed"] = frame["claimed"] if "claimed" in frame else True
    if "estimated_departure" not in frame:
        raw["estimated_departure"] = None
    raw.attrs["columns"] = {ours: theirs for theirs, ours in _CSV_COLUMNS.items()} | {
        "estimated_departure": "estimated_departure"
    }
    return raw


def _read_api_json(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataFileError(path, "no such file")
    try:
        with reading(path):
            document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataFileError(path, f"not valid JSON: {err}") from None
    items = document.get("_items") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise DataFileError(path, "an ACN-Data API file must hold an '_items' list")
    if not items:
        raise DataFileError(path, "'_items' is empty: no sessions")
    rows = [_api_session(path, number, item) for number, item in enumerate(items, start=1)]
    raw = pd.DataFrame(rows)
    raw.attrs["columns"] = {
        "session_id": "sessionID",
        "station_id": "spaceID/stationID",
        "arrival": "connectionTime",
        "departure": "disconnectTime",
        "estimated_departure": "requestedDeparture",
        "energy_requested_kwh": "kWhRequested",
        "energy_delivered_kwh": "kWhDelivered",
    }
    return raw


def _api_session(path: Path, number: int, item) -> dict:
    """The session of item ``number`` of an ACN-Data API file (see the module doc)."""
    if not isinstance(item, dict):
        raise DataFileError(path, f"got {item!r}; an item must be a session object", row=number)
    for key in ("connectionTime", "disconnectTime", "kWhDelivered", "sessionID"):
        if key not in item:
            raise DataFileError(path, "missing field", row=number, column=key)
    station = item.get("spaceID") or item.get("stationID")
    if station is None:
        raise DataFileError(path, "missing field", row=number, column="spaceID/stationID")
    requests = item.get("userInputs") or [None]
    request = requests[-1] if isinstance(requests, list) else requests
    if request is not None:
        if not isinstance(request, dict):
            raise DataFileError(
                path, f"got {request!r}; a request must be an object", row=number,
                column="userInputs",
            )  # fmt: skip
        if "kWhRequested" not in request:
            raise DataFileError(path, "missing field", row=number, column="kWhRequested")
    return {
        "session_id": item["sessionID"],
        "station_id": station,
        "arrival": item["connectionTime"],
        "departure": item["disconnectTime"],
        "energy_delivered_kwh": item["kWhDelivered"],
        "energy_requested_kwh": 0.0 if request is None else request["kWhRequested"],
        "estimated_departure": None if request is None else request.get("requestedDeparture"),
        "claimed": request is not None,
    }
