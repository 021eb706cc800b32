"""Loaders of real data files: tiny fixture files written here, good and bad.

Every bad file must raise :class:`DataFileError` naming the file, the row (1-based line of a
CSV, item number of a JSON) and the column. Row numbers below are counted by hand in the
fixture text: line 1 is the header unless said otherwise.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from windpowerlib import WindTurbine

from evgrid_gym.core.sampling import inverse_cdf
from evgrid_gym.data.acn import SESSION_COLUMNS, load_acn_sessions
from evgrid_gym.data.elaad import ElaadSessionGenerator, load_elaad_statistics
from evgrid_gym.data.errors import DataFileError
from evgrid_gym.data.fleet import FleetSampler, load_ev_specs
from evgrid_gym.data.nrel import load_nrel_wind, wind_power_kw
from evgrid_gym.data.prices import load_day_ahead_prices
from evgrid_gym.data.simbench import generation_kw, household_power_kw, load_simbench_profiles


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def assert_error(err: pytest.ExceptionInfo, path: Path, row: int | None, column: str | None):
    """The error names the file, the row and the column, in its attributes and its message."""
    message = str(err.value)
    assert err.value.path == path
    assert path.name in message
    assert err.value.row == row
    assert err.value.column == column
    if row is not None:
        assert f"row {row}" in message
    if column is not None:
        assert repr(column) in message


def assert_rejected(
    loader, source: Path, row: int | None, column: str | None, *texts: str, path: Path | None = None
):
    """``loader(source)`` raises :class:`DataFileError` naming the file (``path``, by default
    ``source``), the row and the column (:func:`assert_error`), with each of ``texts`` in its
    message."""
    with pytest.raises(DataFileError) as err:
        loader(source)
    assert_error(err, source if path is None else path, row, column)
    for text in texts:
        assert text in str(err.value)


# --------------------------------------------------------------------------- ACN CSV

ACN_HEADER = (
    "arrival,departure,requested_energy (kWh),delivered_energy (kWh),station_id,session_id,"
    "estimated_departure,claimed\n"
)
# line 2: claimed; line 3: unclaimed (requested := delivered, estimated := departure);
# line 4: claimed, arrives before line 2 (the result is sorted by arrival)
ACN_ROWS = [
    "2019-05-01 06:00:00-07:00,2019-05-01 10:00:00-07:00,20.0,15.5,CA-305,s1,"
    "2019-05-01 09:30:00-07:00,True\n",
    "2019-05-01 07:00:00-07:00,2019-05-01 08:30:00-07:00,9.0,3.25,CA-311,s2,"
    "2019-05-01 08:00:00-07:00,False\n",
    "2019-05-01 05:00:00-07:00,2019-05-01 12:00:00-07:00,30.0,0.0,CA-303,s3,"
    "2019-05-01 11:00:00-07:00,True\n",
]


def acn_csv(tmp_path: Path, rows=ACN_ROWS, header: str = ACN_HEADER) -> Path:
    return write(tmp_path / "sessions.csv", header + "".join(rows))


def test_acn_csv_loads(tmp_path):
    sessions = load_acn_sessions(acn_csv(tmp_path))
    assert list(sessions.columns) == list(SESSION_COLUMNS)
    assert list(sessions["session_id"]) == ["s3", "s1", "s2"]
    assert str(sessions["arrival"].dt.tz) == "America/Los_Angeles"
    s1, s2 = sessions.iloc[1], sessions.iloc[2]
    assert s1["arrival"] == pd.Timestamp("2019-05-01 13:00", tz="UTC")
    assert s1["estimated_departure"] == pd.Timestamp("2019-05-01 16:30", tz="UTC")
    assert (s1["energy_requested_kwh"], s1["energy_delivered_kwh"]) == (20.0, 15.5)
    assert bool(s1["claimed"]) and not bool(s2["claimed"])
    assert s2["energy_requested_kwh"] == s2["energy_delivered_kwh"] == 3.25  # unclaimed rule
    assert s2["estimated_departure"] == s2["departure"]
    assert s2["station_id"] == "CA-311"


def test_acn_csv_gz_loads(tmp_path):
    path = tmp_path / "sessions.csv.gz"
    pd.read_csv(acn_csv(tmp_path)).to_csv(path, index=False, compression="gzip")
    assert list(load_acn_sessions(path)["session_id"]) == ["s3", "s1", "s2"]


def acn_rows(line: int, old: str, new: str) -> list[str]:
    """ACN_ROWS with ``old`` replaced by ``new`` on file line ``line`` (line 1: the header)."""
    rows = list(ACN_ROWS)
    rows[line - 2] = rows[line - 2].replace(old, new)
    return rows


@pytest.mark.parametrize(
    "header, rows, row, column, texts",
    [
        pytest.param(
            ACN_HEADER.replace("delivered_energy (kWh),", ""),
            [r.replace(",15.5,", ",").replace(",3.25,", ",").replace(",0.0,", ",")
             for r in ACN_ROWS],
            None, "delivered_energy (kWh)", ["missing column"], id="missing_column",
        ),
        pytest.param(
            ACN_HEADER, acn_rows(3, "2019-05-01 07:00:00-07:00", "sometime"),
            3, "arrival", ["sometime"], id="unparsable_timestamp",
        ),
        pytest.param(
            ACN_HEADER, acn_rows(4, "2019-05-01 11:00:00-07:00", "soon"),
            4, "estimated_departure", [], id="unparsable_estimated_departure",
        ),
        pytest.param(
            ACN_HEADER, acn_rows(4, "2019-05-01 12:00:00-07:00", "2019-05-01 04:59:00-07:00"),
            4, "departure", ["not after arrival"], id="departure_before_arrival",
        ),
        pytest.param(
            ACN_HEADER, acn_rows(3, ",3.25,", ",-3.25,"),
            3, "delivered_energy (kWh)", ["-3.25"], id="negative_energy",
        ),
        pytest.param(
            ACN_HEADER, acn_rows(2, ",20.0,", ",,"),
            2, "requested_energy (kWh)", [], id="nan_energy",
        ),
        pytest.param(
            ACN_HEADER, [ACN_ROWS[0], ACN_ROWS[1].replace("CA-311", "")],  # line 3
            3, "station_id", ["missing value"], id="missing_station_id",
        ),
    ],
)  # fmt: skip
def test_acn_csv_bad_row(tmp_path, header, rows, row, column, texts):
    path = acn_csv(tmp_path, rows, header)
    assert_rejected(load_acn_sessions, path, row, column, *texts)


@pytest.mark.parametrize(
    "text, texts",
    [
        pytest.param(ACN_HEADER, ["no data rows"], id="header_only"),
        *(
            pytest.param(
                (ACN_HEADER + "".join(ACN_ROWS)).replace(",", delimiter), ["delimiter"], id=name
            )
            for delimiter, name in ((";", "semicolons"), ("\t", "tabs"))
        ),
    ],
)
def test_acn_csv_bad_document(tmp_path, text, texts):
    path = write(tmp_path / "sessions.csv", text)
    assert_rejected(load_acn_sessions, path, None, None, *texts)


def test_acn_missing_file(tmp_path):
    assert_rejected(load_acn_sessions, tmp_path / "nowhere.csv", None, None, "no such file")


# --------------------------------------------------------------------------- ACN API JSON


def api_items() -> list[dict]:
    return [
        {  # item 1: claimed, two requests (the last one counts)
            "_id": "5bc90cb9f9af8b0d7fe77cd2",
            "clusterID": "0039",
            "connectionTime": "Wed, 25 Apr 2018 11:08:04 GMT",
            "disconnectTime": "Wed, 25 Apr 2018 13:20:10 GMT",
            "doneChargingTime": "Wed, 25 Apr 2018 13:21:10 GMT",
            "kWhDelivered": 7.5,
            "sessionID": "2_39_78_362_2018-04-25 11:08:04.400812",
            "siteID": "0002",
            "spaceID": "CA-496",
            "stationID": "2-39-78-362",
            "timezone": "America/Los_Angeles",
            "userID": None,
            "userInputs": [
                {
                    "kWhRequested": 10.0,
                    "requestedDeparture": "Wed, 25 Apr 2018 14:00:00 GMT",
                    "milesRequested": 30,
                    "WhPerMile": 333,
                    "userID": 1,
                },
                {
                    "kWhRequested": 12.0,
                    "requestedDeparture": "Wed, 25 Apr 2018 15:30:00 GMT",
                    "milesRequested": 36,
                    "WhPerMile": 333,
                    "userID": 1,
                },
            ],
        },
        {  # item 2: unclaimed, crosses midnight in Pasadena but not in GMT
            "connectionTime": "Thu, 26 Apr 2018 05:00:00 GMT",
            "disconnectTime": "Thu, 26 Apr 2018 09:45:00 GMT",
            "kWhDelivered": 4.25,
            "sessionID": "2_39_79_380_2018-04-26 05:00:00.000000",
            "spaceID": "CA-320",
            "stationID": "2-39-79-380",
            "userInputs": None,
        },
    ]


def api_json(tmp_path: Path, items: list[dict]) -> Path:
    path = tmp_path / "acndata_sessions.json"
    path.write_text(json.dumps({"_items": items, "_meta": {"total": len(items)}}))
    return path


def test_acn_api_json_loads(tmp_path):
    sessions = load_acn_sessions(api_json(tmp_path, api_items()))
    assert len(sessions) == 2
    first, second = sessions.iloc[0], sessions.iloc[1]
    # 11:08:04 GMT is 04:08:04 PDT (UTC-7)
    assert str(sessions["arrival"].dt.tz) == "America/Los_Angeles"
    assert first["arrival"].strftime("%Y-%m-%d %H:%M:%S%z") == "2018-04-25 04:08:04-0700"
    assert first["departure"].strftime("%H:%M:%S") == "06:20:10"
    assert first["estimated_departure"].strftime("%H:%M") == "08:30"  # last request
    assert (first["energy_requested_kwh"], first["energy_delivered_kwh"]) == (12.0, 7.5)
    assert bool(first["claimed"])
    assert first["station_id"] == "CA-496"
    assert first["session_id"] == "2_39_78_362_2018-04-25 11:08:04.400812"
    assert second["arrival"].strftime("%Y-%m-%d %H:%M%z") == "2018-04-25 22:00-0700"
    assert not bool(second["claimed"])
    assert second["energy_requested_kwh"] == second["energy_delivered_kwh"] == 4.25
    assert second["estimated_departure"] == second["departure"]


@pytest.mark.parametrize(
    "edit, row, column, texts",
    [
        pytest.param(
            lambda items: items[1].update(disconnectTime="later"),
            2, "disconnectTime", [], id="unparsable_timestamp",
        ),
        pytest.param(
            lambda items: items[1].update(disconnectTime="Thu, 26 Apr 2018 04:00:00 GMT"),
            2, "disconnectTime", ["not after arrival"], id="departure_before_arrival",
        ),
        *(
            pytest.param(
                lambda items, value=value: items[1].update(kWhDelivered=value),
                2, "kWhDelivered", [], id=f"energy_{value}",
            )
            for value in (-1.0, float("nan"))
        ),
        pytest.param(
            lambda items: items[0]["userInputs"][1].pop("kWhRequested"),
            1, "kWhRequested", [], id="missing_requested_energy",
        ),
        pytest.param(
            lambda items: items[1].pop("connectionTime"),
            2, "connectionTime", ["missing field"], id="missing_field",
        ),
    ],
)  # fmt: skip
def test_acn_api_json_bad_item(tmp_path, edit, row, column, texts):
    items = api_items()
    edit(items)
    path = api_json(tmp_path, items)
    assert_rejected(load_acn_sessions, path, row, column, *texts)


@pytest.mark.parametrize(
    "text, match",
    [("", "not valid JSON"), ('{"_items": []}', "empty"), ("[1, 2]", "_items")],
)
def test_acn_api_json_bad_document(tmp_path, text, match):
    path = write(tmp_path / "acndata_sessions.json", text)
    assert_rejected(load_acn_sessions, path, None, None, match)


# --------------------------------------------------------------------------- prices

PRICE_HEADER = "Country,Datetime (UTC),Datetime (Local),Price (EUR/MWhe)\n"
# line 2..7: ISO block, 2023-03-25 22:00 .. 2023-03-26 03:00 UTC (6 hours);
# line 8: the separator; line 9..13: day-first block from 26/03/2023 01:00 UTC: its first three
# rows (01:00, 02:00, 03:00) repeat the ISO block with other prices and must be dropped
PRICE_TWO_BLOCKS = PRICE_HEADER + (
    "Netherlands,2023-03-25 22:00:00,2023-03-25 23:00:00,80.0\n"
    "Netherlands,2023-03-25 23:00:00,2023-03-26 00:00:00,70.5\n"
    "Netherlands,2023-03-26 00:00:00,2023-03-26 01:00:00,-500.0\n"
    "Netherlands,2023-03-26 01:00:00,2023-03-26 03:00:00,12.0\n"
    "Netherlands,2023-03-26 02:00:00,2023-03-26 04:00:00,13.0\n"
    "Netherlands,2023-03-26 03:00:00,2023-03-26 05:00:00,14.0\n"
    "Netherlands,,,0.0\n"
    "Netherlands,26/03/2023 01:00,26/03/2023 03:00,99.0\n"
    "Netherlands,26/03/2023 02:00,26/03/2023 04:00,99.0\n"
    "Netherlands,26/03/2023 03:00,26/03/2023 05:00,99.0\n"
    "Netherlands,26/03/2023 04:00,26/03/2023 06:00,-0.25\n"
    "Netherlands,26/03/2023 05:00,26/03/2023 07:00,15.0\n"
)


def test_prices_two_blocks_deduplicated(tmp_path):
    path = write(tmp_path / "prices.csv", PRICE_TWO_BLOCKS)
    with pytest.warns(UserWarning, match=r"dropped 3 rows") as record:
        prices = load_day_ahead_prices(path)
    assert path.name in str(record[0].message)
    expected_times = pd.date_range("2023-03-25 22:00", periods=8, freq="h", tz="UTC")
    assert list(prices["time"]) == list(expected_times)
    assert str(prices["time"].dt.tz) == "UTC"
    # EUR/MWh -> EUR/kWh; the first of two rows for an hour is kept; negative prices kept
    np.testing.assert_allclose(
        prices["price_eur_per_kwh"],
        [0.080, 0.0705, -0.5, 0.012, 0.013, 0.014, -0.00025, 0.015],
        rtol=0,
        atol=1e-12,
    )


def test_prices_no_warning_without_overlap(tmp_path):
    path = write(
        tmp_path / "prices.csv",
        PRICE_HEADER
        + (
            "Netherlands,2023-03-26 00:00:00,2023-03-26 01:00:00,1.0\n"
            "Netherlands,,,0.0\n"
            "Netherlands,26/03/2023 01:00,26/03/2023 03:00,2.0\n"
        ),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prices = load_day_ahead_prices(path)
    assert list(prices["price_eur_per_kwh"]) == [0.001, 0.002]


# Local time jumps 02:00 -> 03:00 on 2024-03-31 (01:00 UTC) and falls back 03:00 -> 02:00 on
# 2024-10-27 (01:00 UTC): the local column skips or repeats an hour, the UTC column does not
DST_ROWS = {
    "march": (
        "Netherlands,2024-03-30 22:00:00,2024-03-30 23:00:00,41.0\n"
        "Netherlands,2024-03-30 23:00:00,2024-03-31 00:00:00,42.0\n"
        "Netherlands,2024-03-31 00:00:00,2024-03-31 01:00:00,43.0\n"
        "Netherlands,2024-03-31 01:00:00,2024-03-31 03:00:00,44.0\n"
        "Netherlands,2024-03-31 02:00:00,2024-03-31 04:00:00,45.0\n"
        "Netherlands,2024-03-31 03:00:00,2024-03-31 05:00:00,46.0\n"
    ),
    "october": (
        "Netherlands,2024-10-26 22:00:00,2024-10-27 00:00:00,41.0\n"
        "Netherlands,2024-10-26 23:00:00,2024-10-27 01:00:00,42.0\n"
        "Netherlands,2024-10-27 00:00:00,2024-10-27 02:00:00,43.0\n"
        "Netherlands,2024-10-27 01:00:00,2024-10-27 02:00:00,44.0\n"
        "Netherlands,2024-10-27 02:00:00,2024-10-27 03:00:00,45.0\n"
        "Netherlands,2024-10-27 03:00:00,2024-10-27 04:00:00,46.0\n"
    ),
}


@pytest.mark.parametrize("change", DST_ROWS)
def test_prices_dst_change_has_no_gap_or_duplicate(tmp_path, change):
    path = write(tmp_path / "prices.csv", PRICE_HEADER + DST_ROWS[change])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no hour is dropped as a duplicate
        prices = load_day_ahead_prices(path)
    first = DST_ROWS[change].split(",")[1]
    expected = pd.date_range(first, periods=6, freq="h", tz="UTC")
    assert list(prices["time"]) == list(expected)
    assert list(prices["price_eur_per_kwh"]) == pytest.approx(
        [0.041, 0.042, 0.043, 0.044, 0.045, 0.046]
    )


def bad_price_time(line: int, bad: str) -> str:
    """PRICE_TWO_BLOCKS with the UTC time on ``line`` replaced by ``bad``."""
    lines = PRICE_TWO_BLOCKS.splitlines(keepends=True)
    good = lines[line - 1].split(",")[1]
    lines[line - 1] = lines[line - 1].replace(good, bad, 1)
    return "".join(lines)


@pytest.mark.parametrize(
    "text, row, column, texts",
    [
        *(
            pytest.param(bad_price_time(line, bad), line, "Datetime (UTC)", [bad], id=bad)
            for line, bad in [
                (4, "2023-03-26 25:00:00"), (11, "30/02/2023 04:00"), (11, "yesterday")
            ]
        ),
        pytest.param(
            PRICE_TWO_BLOCKS.replace("-0.25\n", "n/a\n"),  # line 12
            12, "Price (EUR/MWhe)", [], id="unparsable_price",
        ),
        pytest.param(
            PRICE_HEADER.replace("Price (EUR/MWhe)", "Price (EUR/kWh)")
            + "Netherlands,2023-03-25 22:00:00,2023-03-25 23:00:00,80.0\n",
            None, "Price (EUR/MWhe)", ["missing column"], id="missing_price_column",
        ),
    ],
)  # fmt: skip
def test_prices_bad_file(tmp_path, text, row, column, texts):
    path = write(tmp_path / "prices.csv", text)
    assert_rejected(load_day_ahead_prices, path, row, column, *texts)


# --------------------------------------------------------------------------- NREL wind

NREL_METADATA = (
    "SiteID,0,Site Timezone,-9,Data Timezone,-9,Longitude,-128.77481,Latitude,39.970406\n"
)
NREL_HEADER = "Year,Month,Day,Hour,Minute,wind speed at 100m (m/s)\n"
# line 1: metadata; line 2: header; lines 3..6: data
NREL_ROWS = "2019,1,1,0,0,13.97\n2019,1,1,0,15,14.01\n2019,1,1,0,30,0.0\n2019,1,1,0,45,7.5\n"


def nrel_csv(tmp_path: Path, text: str) -> Path:
    return write(tmp_path / "wtk.csv", text)


def test_nrel_loads_with_timezone_offset(tmp_path):
    wind = load_nrel_wind(nrel_csv(tmp_path, NREL_METADATA + NREL_HEADER + NREL_ROWS))
    # Data Timezone -9: local = UTC - 9 h, so UTC = local + 9 h
    assert list(wind["time"]) == [
        pd.Timestamp("2019-01-01 09:00", tz="UTC"),
        pd.Timestamp("2019-01-01 09:15", tz="UTC"),
        pd.Timestamp("2019-01-01 09:30", tz="UTC"),
        pd.Timestamp("2019-01-01 09:45", tz="UTC"),
    ]
    assert list(wind["wind_speed_m_s"]) == [13.97, 14.01, 0.0, 7.5]
    assert wind.attrs["measurement_height_m"] == 100.0


def test_nrel_utc_data_and_other_height(tmp_path):
    text = (
        NREL_METADATA.replace("Data Timezone,-9", "Data Timezone,0")
        + NREL_HEADER.replace("100m", "80m")
        + NREL_ROWS
    )
    wind = load_nrel_wind(nrel_csv(tmp_path, text))
    assert wind["time"].iloc[0] == pd.Timestamp("2019-01-01 00:00", tz="UTC")
    assert wind.attrs["measurement_height_m"] == 80.0


NREL_NO_MINUTE = (  # header and rows without the Minute column
    NREL_HEADER.replace("Minute,", "")
    + "".join(
        line.rsplit(",", 2)[0] + "," + line.rsplit(",", 1)[1] + "\n"
        for line in NREL_ROWS.splitlines()
    )
)


@pytest.mark.parametrize(
    "text, row, column, texts",
    [
        pytest.param(NREL_HEADER + NREL_ROWS, 1, None, ["metadata"], id="missing_metadata"),
        pytest.param(
            NREL_METADATA + NREL_HEADER + NREL_ROWS.replace("2019,1,1,0,30,0.0", "2019,1,1,0,30,"),
            5, "wind speed at 100m (m/s)", [], id="nan_speed",  # line 5
        ),
        pytest.param(
            NREL_METADATA + NREL_HEADER + NREL_ROWS.replace("14.01", "-1.5"),
            4, "wind speed at 100m (m/s)", [], id="negative_speed",  # line 4
        ),
        pytest.param(
            NREL_METADATA + NREL_HEADER + NREL_ROWS.replace("2019,1,1,0,45", "2019,13,1,0,45"),
            6, "Year..Minute", [], id="month_13",  # line 6
        ),
        pytest.param(
            NREL_METADATA + NREL_NO_MINUTE, None, "Minute", ["missing column"],
            id="missing_time_column",
        ),
        pytest.param(
            (NREL_METADATA + NREL_HEADER + NREL_ROWS).replace(",", ";"), None, None,
            ["delimiter"], id="semicolons",
        ),
    ],
)  # fmt: skip
def test_nrel_bad_file(tmp_path, text, row, column, texts):
    assert_rejected(load_nrel_wind, nrel_csv(tmp_path, text), row, column, *texts)


def turbine_curve_kw(turbine_type: str) -> tuple[np.ndarray, np.ndarray]:
    """windpowerlib's power curve, read directly: (speed m/s, power kW)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curve = WindTurbine(turbine_type=turbine_type, hub_height=100.0).power_curve
    return curve["wind_speed"].to_numpy(float), curve["value"].to_numpy(float) / 1000.0


def wind_table(speeds, measured_m: float = 100.0) -> pd.DataFrame:
    """A table like load_nrel_wind's: ``speeds`` (m/s) measured at ``measured_m``."""
    table = pd.DataFrame(
        {
            "time": pd.date_range("2019-01-01", periods=len(speeds), freq="15min", tz="UTC"),
            "wind_speed_m_s": speeds,
        }
    )
    table.attrs["measurement_height_m"] = measured_m
    return table


def test_wind_power_cut_in_cut_out_and_rated():
    turbine, hub = "E-53/800", 73.0
    speeds, power = turbine_curve_kw(turbine)
    cut_in = speeds[np.flatnonzero(power > 0)[0] - 1]  # last speed with zero output
    cut_out = speeds[-1]
    rated = power.max()
    rated_from = speeds[np.flatnonzero(power == rated)[0]]
    assert 0 < cut_in < rated_from < cut_out
    below = [0.0, cut_in / 2, cut_in * 0.99]
    above = [cut_out + 0.01, cut_out + 5.0, 40.0]
    in_rated = np.linspace(rated_from + 0.01, cut_out - 0.01, 7)
    hub_speed = np.array([*below, *above, *in_rated])
    table = wind_table(hub_speed / (hub / 100.0) ** (1 / 7))  # measured at 100 m
    out = wind_power_kw(table, turbine, hub, count=2)
    assert list(out.iloc[:6]) == [0.0] * 6
    np.testing.assert_allclose(out.iloc[6:], 2 * rated, rtol=1e-9)
    assert out.name == "power_kw"
    assert out.index[0] == pd.Timestamp("2019-01-01", tz="UTC")


def test_wind_power_hellman_correction():
    turbine, hub, measured = "E-53/800", 73.0, 100.0
    speeds, power = turbine_curve_kw(turbine)
    measured_speed = np.array([3.3, 5.5, 7.25, 8.8, 10.4, 11.9])  # all on the ramp
    table = wind_table(measured_speed, measured)
    hub_speed = measured_speed * (hub / measured) ** (1 / 7)
    expected = np.interp(hub_speed, speeds, power)
    out = wind_power_kw(table, turbine, hub)
    np.testing.assert_allclose(out.to_numpy(), expected, rtol=1e-9)
    # and without the correction the output would differ noticeably
    assert np.all(np.abs(np.interp(measured_speed, speeds, power) - expected) > 1.0)


# --------------------------------------------------------------------------- SimBench

SIMBENCH_TEXT = (
    "time,H0-A_pload,H0-G_pload,WP1,PV3\n"  # line 1
    "02.03.2016 00:00,0.25,0.5,-0.00001,0\n"  # line 2
    "02.03.2016 00:15,1.0,0.75,0.5,0.125\n"  # line 3
    "02.03.2016 00:30,0.5,1.0,0.99,0.25\n"  # line 4
)


def test_simbench_loads(tmp_path):
    table = load_simbench_profiles(write(tmp_path / "LoadProfile.csv", SIMBENCH_TEXT))
    assert list(table.columns) == ["time", "H0-A_pu", "H0-G_pu", "WP1_pu", "PV3_pu"]
    # dd.mm.YYYY, UTC+1 all year: 2 March 00:00 is 1 March 23:00 UTC
    assert table["time"].iloc[0] == pd.Timestamp("2016-03-01 23:00", tz="UTC")
    assert table["time"].iloc[2] == pd.Timestamp("2016-03-01 23:30", tz="UTC")
    assert table["time"].iloc[2].utcoffset() == pd.Timedelta(hours=1)
    assert (table["time"].diff().dropna() == pd.Timedelta(minutes=15)).all()
    assert list(table["H0-A_pu"]) == [0.25, 1.0, 0.5]
    assert list(table["WP1_pu"]) == [-0.00001, 0.5, 0.99]  # loaded as they are


@pytest.mark.parametrize(
    "stamps, utc",
    [
        (  # German local time: 02:00..02:45 is skipped on 27 March ...
            ["27.03.2016 01:30", "27.03.2016 01:45", "27.03.2016 03:00", "27.03.2016 03:15"],
            ["2016-03-27 00:30", "2016-03-27 00:45", "2016-03-27 01:00", "2016-03-27 01:15"],
        ),
        (  # ... and repeated on 30 October
            ["30.10.2016 01:45", "30.10.2016 02:00", "30.10.2016 02:15", "30.10.2016 02:30",
             "30.10.2016 02:45", "30.10.2016 02:00", "30.10.2016 02:15", "30.10.2016 02:30",
             "30.10.2016 02:45", "30.10.2016 03:00"],
            ["2016-10-29 23:45", "2016-10-30 00:00", "2016-10-30 00:15", "2016-10-30 00:30",
             "2016-10-30 00:45", "2016-10-30 01:00", "2016-10-30 01:15", "2016-10-30 01:30",
             "2016-10-30 01:45", "2016-10-30 02:00"],
        ),
    ],
)  # fmt: skip
def test_simbench_daylight_saving_time(tmp_path, stamps, utc):
    text = "time,WP1\n" + "".join(f"{t},0.{i}\n" for i, t in enumerate(stamps))
    table = load_simbench_profiles(write(tmp_path / "RESProfile.csv", text))
    assert list(table["time"]) == [pd.Timestamp(t, tz="UTC") for t in utc]
    assert list(table["WP1_pu"]) == [float(f"0.{i}") for i in range(len(stamps))]


@pytest.mark.parametrize(
    "text, row, column, texts",
    [
        pytest.param(
            "time,WP1\n27.03.2016 01:45,0.1\n27.03.2016 02:00,0.2\n", None, "time",
            ["nonexistent"], id="nonexistent_local_time",
        ),
        pytest.param(
            "time,WP1\n30.10.2016 02:15,0.1\n", None, "time",  # the repeated hour, once only
            ["not a Europe/Berlin time"], id="unpaired_ambiguous_local_time",
        ),
        pytest.param(
            SIMBENCH_TEXT.replace("1.0,0.99", ",0.99"),  # line 4, column H0-G_pload
            4, "H0-G_pload", [], id="nan_value",
        ),
        pytest.param(
            SIMBENCH_TEXT.replace("02.03.2016 00:15", "2016-03-02 00:15"),  # line 3, ISO
            3, "time", [], id="unparsable_time",
        ),
        pytest.param(
            SIMBENCH_TEXT.replace("time,", "Zeit,", 1), None, "time", [],
            id="missing_time_column",
        ),
    ],
)  # fmt: skip
def test_simbench_bad_file(tmp_path, text, row, column, texts):
    path = write(tmp_path / "profiles.csv", text)
    assert_rejected(load_simbench_profiles, path, row, column, *texts)


def test_household_power_by_annual_energy():
    rng = np.random.default_rng(7)
    profile = rng.uniform(0.05, 1.0, 35_136)
    profile /= profile.max()
    power = household_power_kw(profile, 0.25, annual_kwh=3_500.0)
    assert power.sum() * 0.25 == pytest.approx(3_500.0, rel=1e-12)
    np.testing.assert_allclose(power / profile, power[0] / profile[0])  # same shape


def test_household_power_by_peak():
    rng = np.random.default_rng(8)
    profile = rng.uniform(0.0, 1.0, 96)
    profile[17] = 1.0
    power = household_power_kw(profile, 0.25, peak_kw=4.2)
    assert power.max() == pytest.approx(4.2)
    assert int(np.argmax(power)) == 17


@pytest.mark.parametrize("kwargs", [{}, {"annual_kwh": 3000.0, "peak_kw": 3.0}])
def test_household_power_needs_exactly_one_scale(kwargs):
    with pytest.raises(ValueError, match="exactly one"):
        household_power_kw(np.ones(4), 0.25, **kwargs)


def test_generation_floors_negative_values():
    out = generation_kw(np.array([-1e-5, 0.0, 0.25, 1.0]), 200.0)
    np.testing.assert_array_equal(out, [0.0, 0.0, 50.0, 200.0])


# --------------------------------------------------------------------------- ElaadNL

BOM = "\ufeff"


def arrival_weights(n_columns: int) -> np.ndarray:
    """Percent per quarter hour (rows sum to 100 per column), different shapes per column."""
    hours = np.arange(96) / 4
    shapes = [
        np.exp(-0.5 * ((hours - 18.0) / 2.0) ** 2) + 0.02,  # evening peak
        np.exp(-0.5 * ((hours - 12.0) / 4.0) ** 2) + 0.05,  # midday
        np.where((hours >= 7) & (hours < 10), 1.0, 0.01),  # morning block
    ][:n_columns]
    return np.stack([100 * s / s.sum() for s in shapes], axis=1)


def write_elaad(folder: Path, arrival_rows: int = 96, drop: str | None = None) -> Path:
    """The seven ElaadNL files, CRLF and a byte-order mark like the originals."""
    folder.mkdir(exist_ok=True)

    def csv_text(header: list[str], rows: list[list]) -> str:
        keep = [i for i, name in enumerate(header) if name != drop]
        lines = [",".join(f'"{header[i]}"' for i in keep)]
        lines += [",".join(str(row[i]) for i in keep) for row in rows]
        return BOM + "\r\n".join(lines)

    times = [f'"{q // 4:02d}:{15 * (q % 4):02d}"' for q in range(96)]
    for name, sites in (
        ("distribution-of-arrival.csv", ["private", "public", "workplace"]),
        ("distribution-of-arrival-weekend.csv", ["private", "public"]),
    ):
        pct = arrival_weights(len(sites))
        if name == "distribution-of-arrival-weekend.csv":
            pct = pct[::-1]  # the weekend profile is the reverse
        rows = [[times[q], *pct[q]] for q in range(arrival_rows)]
        (folder / name).write_text(csv_text(["Arrival time", *sites], rows), encoding="utf-8")
    k = np.arange(101)
    quantiles = {  # value exceeded by k % of sessions: decreasing in k
        "distribution-of-connection-time.csv": [
            1 + 23 * (1 - k / 100) ** 2,
            10 * (1 - k / 100),
            12 - 0.12 * k,
        ],
        "distribution-of-energy-demand.csv": [
            60 * (1 - k / 100),
            40 * (1 - k / 100) ** 1.5,
            30 - 0.3 * k,
        ],
    }
    for name, columns in quantiles.items():
        rows = [[int(i), *(c[i] for c in columns)] for i in k]
        header = ["Percentage of charging events", "private", "public", "workplace"]
        (folder / name).write_text(csv_text(header, rows), encoding="utf-8")
    half_hours = [f'"{h // 2:02d}:{30 * (h % 2):02d}"' for h in range(48)]
    for name in ("mean-demand-per-arrival.csv", "mean-session-length-per.csv"):
        rows = [[t, 10 + i % 5, 8, "" if i < 10 else 6] for i, t in enumerate(half_hours)]
        header = ["Arrival Time", "home", "public", "work"]
        (folder / name).write_text(csv_text(header, rows), encoding="utf-8")
    days = ['"Mon"', '"Tue"']
    (folder / "distribution-of-charging.csv").write_text(
        csv_text(["Day of the week", "private (median)"], [[d, 14.0] for d in days]),
        encoding="utf-8",
    )
    return folder


def test_elaad_loads(tmp_path):
    stats = load_elaad_statistics(write_elaad(tmp_path / "elaad"))
    pct = arrival_weights(3)
    np.testing.assert_allclose(stats.arrival_weekday_pct.to_numpy(), pct)
    assert stats.arrival_weekday_pct.index[0] == "00:00"
    assert stats.arrival_weekday_pct.index[-1] == "23:45"
    np.testing.assert_allclose(stats.arrival_weekend_pct["public"], pct[::-1, 1])
    np.testing.assert_allclose(stats.arrival_weekend_pct["workplace"], pct[:, 2])
    assert stats.connection_time_h.shape == (101, 3)
    assert stats.connection_time_h.loc[50, "public"] == pytest.approx(5.0)
    assert stats.energy_demand_kwh.loc[0, "private"] == pytest.approx(60.0)
    assert list(stats.mean_demand_kwh.columns) == ["private", "public", "workplace"]
    assert np.isnan(stats.mean_session_h.loc["00:00", "workplace"])


def negative_connection_time(folder: Path) -> None:
    """Line 4 (k = 2) of the connection-time table gets a negative ``private`` value."""
    path = folder / "distribution-of-connection-time.csv"
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    assert lines[3].startswith("2,")  # line 4 holds k = 2
    lines[3] = "2,-1,9.8,11.76"
    path.write_bytes("\r\n".join(lines).encode("utf-8"))


@pytest.mark.parametrize(
    "options, edit, name, row, column, texts",
    [
        pytest.param(
            {"arrival_rows": 95}, None, "distribution-of-arrival.csv", None, None,
            ["has 95 data rows; must have 96"], id="wrong_row_count",
        ),
        pytest.param(
            {"drop": "workplace"}, None, "distribution-of-arrival.csv", None, "workplace",
            ["missing column"], id="missing_column",
        ),
        pytest.param(
            {}, negative_connection_time, "distribution-of-connection-time.csv", 4, "private",
            [], id="negative_value",
        ),
        pytest.param(
            {}, lambda folder: (folder / "distribution-of-energy-demand.csv").unlink(),
            "distribution-of-energy-demand.csv", None, None, ["no such file"],
            id="missing_file",
        ),
    ],
)  # fmt: skip
def test_elaad_bad_folder(tmp_path, options, edit, name, row, column, texts):
    folder = write_elaad(tmp_path / "elaad", **options)
    if edit is not None:
        edit(folder)
    assert_rejected(load_elaad_statistics, folder, row, column, *texts, path=folder / name)


@pytest.mark.parametrize("site, column", [("private", 0), ("public", 1), ("workplace", 2)])
def test_elaad_generator_follows_the_statistics(tmp_path, site, column):
    stats = load_elaad_statistics(write_elaad(tmp_path / "elaad"))
    generator = ElaadSessionGenerator(stats, site)
    n = 200_000
    arrival_h, connection_h, energy_kwh = generator.sample(np.random.default_rng(42), n, False)
    assert arrival_h.shape == connection_h.shape == energy_kwh.shape == (n,)
    assert arrival_h.min() >= 0.0 and arrival_h.max() < 24.0
    expected_hour = arrival_weights(3)[:, column].reshape(24, 4).sum(axis=1) / 100
    observed_hour = np.bincount(arrival_h.astype(int), minlength=24) / n
    np.testing.assert_allclose(observed_hour, expected_hour, atol=0.006)
    expected_quarter = arrival_weights(3)[:, column] / 100
    observed_quarter = np.bincount((arrival_h * 4).astype(int), minlength=96) / n
    tolerance = 5 * np.sqrt(expected_quarter / n) + 1e-4  # 5 sigma per quarter hour
    assert (np.abs(observed_quarter - expected_quarter) < tolerance).all()
    # uniform within the quarter hour
    within = np.histogram((arrival_h * 4) % 1, bins=5, range=(0, 1))[0] / n
    np.testing.assert_allclose(within, 0.2, atol=0.01)
    # quantile tables written above: value at k = 50 (exceeded by half the sessions)
    connection_median = [1 + 23 * 0.5**2, 10 * 0.5, 12 - 6.0][column]
    energy_median = [60 * 0.5, 40 * 0.5**1.5, 30 - 15.0][column]
    assert np.median(connection_h) == pytest.approx(connection_median, rel=0.03)
    assert np.median(energy_kwh) == pytest.approx(energy_median, rel=0.03)
    # the tables' tails: k % of the sessions exceed the value of row k
    for k in (10, 25, 75, 90):
        connection_k = [1 + 23 * (1 - k / 100) ** 2, 10 * (1 - k / 100), 12 - 0.12 * k][column]
        energy_k = [60 * (1 - k / 100), 40 * (1 - k / 100) ** 1.5, 30 - 0.3 * k][column]
        assert np.mean(connection_h > connection_k) == pytest.approx(k / 100, abs=0.01)
        assert np.mean(energy_kwh > energy_k) == pytest.approx(k / 100, abs=0.01)
    assert connection_h.min() >= 0.25 and energy_kwh.min() >= 0.0


def test_elaad_generator_weekend_profile(tmp_path):
    stats = load_elaad_statistics(write_elaad(tmp_path / "elaad"))
    generator = ElaadSessionGenerator(stats, "private")
    arrival_h, _, _ = generator.sample(np.random.default_rng(3), 100_000, True)
    expected_hour = arrival_weights(1)[::-1, 0].reshape(24, 4).sum(axis=1) / 100
    observed_hour = np.bincount(arrival_h.astype(int), minlength=24) / len(arrival_h)
    np.testing.assert_allclose(observed_hour, expected_hour, atol=0.006)


def test_inverse_cdf_reads_a_quantile_table_as_np_interp():
    levels = np.linspace(0.0, 1.0, 101)
    values = np.cumsum(np.random.default_rng(0).uniform(0.0, 2.0, 101))
    u = np.random.default_rng(1).random(5_000)
    u[:3] = [0.0, 0.5, np.nextafter(1.0, 0.0)]
    read = np.array([inverse_cdf(x, levels, values) for x in u])
    np.testing.assert_array_equal(read, np.interp(u, levels, values))


def test_elaad_generator_unknown_site(tmp_path):
    stats = load_elaad_statistics(write_elaad(tmp_path / "elaad"))
    with pytest.raises(ValueError, match="site"):
        ElaadSessionGenerator(stats, "home")


# --------------------------------------------------------------------------- EV specs


def ev_specs() -> dict:
    return {
        "Car A": {
            "number_of_registrations": 6000,
            "battery_capacity": 50,
            "ac_v2g": "no",
            "max_ac_charge_power": 11,
            "max_dc_charge_power": 100,
            "max_ac_discharge_power": 11,
        },
        "Car B": {
            "number_of_registrations": 3000,
            "battery_capacity": 75.5,
            "ac_v2g": "yes",
            "max_ac_charge_power": 22,
            "max_dc_charge_power": 150,
            "max_ac_discharge_power": 7.4,
        },
        "Car C": {
            "number_of_registrations": 1000,
            "battery_capacity": 30,
            "ac_v2g": "yes",
            "max_ac_charge_power": 3.6,
            "max_dc_charge_power": 46,
        },
    }


MISSING = object()  # a field left out


def specs_json(tmp_path: Path, specs: dict) -> Path:
    path = tmp_path / "ev_specs.json"
    path.write_text(json.dumps(specs, indent=4))
    return path


def test_ev_specs_loads_with_v2g_flags(tmp_path):
    fleet = load_ev_specs(specs_json(tmp_path, ev_specs()))
    assert list(fleet["model"]) == ["Car A", "Car B", "Car C"]
    assert list(fleet["registrations"]) == [6000, 3000, 1000]
    assert list(fleet["battery_kwh"]) == [50, 75.5, 30]
    assert list(fleet["max_ac_kw"]) == [11, 22, 3.6]
    assert list(fleet["max_dc_kw"]) == [100, 150, 46]
    # A: flag "no" despite a discharge power; B: flag "yes"; C: "yes" without a power -> 0
    assert list(fleet["max_v2g_kw"]) == [0.0, 7.4, 0.0]


def test_ev_specs_without_flags_use_discharge_power(tmp_path):
    specs = ev_specs()
    for spec in specs.values():
        del spec["ac_v2g"]
    fleet = load_ev_specs(specs_json(tmp_path, specs))
    assert list(fleet["max_v2g_kw"]) == [11.0, 7.4, 0.0]


@pytest.mark.parametrize(
    "model, field, value, row, texts",
    [
        pytest.param("Car B", "battery_capacity", MISSING, 2, ["missing field", "Car B"],
                     id="missing_field"),
        *(
            pytest.param("Car C", "max_ac_charge_power", value, 3, ["Car C"], id=repr(value))
            for value in [-3.6, "3.6", None, True]
        ),
        pytest.param("Car A", "max_ac_discharge_power", -11, 1, ["-11"],
                     id="negative_discharge_power"),
    ],
)  # fmt: skip
def test_ev_specs_bad_field(tmp_path, model, field, value, row, texts):
    specs = ev_specs()
    if value is MISSING:
        del specs[model][field]
    else:
        specs[model][field] = value
    path = specs_json(tmp_path, specs)
    assert_rejected(load_ev_specs, path, row, field, *texts)


@pytest.mark.parametrize("text", ["", "{}", "[1]"])
def test_ev_specs_bad_document(tmp_path, text):
    path = write(tmp_path / "ev_specs.json", text)
    with pytest.raises(DataFileError) as err:
        load_ev_specs(path)
    assert_error(err, path, None, None)


def test_fleet_sampler_follows_registrations(tmp_path):
    fleet = load_ev_specs(specs_json(tmp_path, ev_specs()))
    n = 100_000
    drawn = FleetSampler(fleet).sample(np.random.default_rng(11), n)
    assert drawn.shape == (4, n)
    battery = drawn[0]
    shares = [np.mean(battery == kwh) for kwh in (50, 75.5, 30)]
    assert sum(shares) == pytest.approx(1.0)
    np.testing.assert_allclose(shares, [0.6, 0.3, 0.1], atol=0.01)
    # each draw is one whole model: its AC, DC and V2G powers go with its battery
    models = {50.0: (11, 100, 0.0), 75.5: (22, 150, 7.4), 30.0: (3.6, 46, 0.0)}
    for kwh, powers in models.items():
        columns = drawn[1:, battery == kwh]
        np.testing.assert_array_equal(
            columns, np.repeat(np.array(powers)[:, None], columns.shape[1], axis=1)
        )


# --------------------------------------------------------------------------- any CSV loader

CSV_LOADERS = {
    "acn": (load_acn_sessions, ACN_HEADER),
    "prices": (load_day_ahead_prices, PRICE_HEADER),
    "simbench": (load_simbench_profiles, SIMBENCH_TEXT.splitlines(keepends=True)[0]),
}


@pytest.mark.parametrize("name", CSV_LOADERS)
@pytest.mark.parametrize(
    "text, texts",
    [
        pytest.param(lambda header: "", ["empty"], id="empty_file"),
        pytest.param(lambda header: header.replace(",", ";") + "1;2;3\n", ["delimiter"],
                     id="semicolons"),
    ],
)  # fmt: skip
def test_csv_loaders_reject(tmp_path, name, text, texts):
    loader, header = CSV_LOADERS[name]
    path = write(tmp_path / f"{name}.csv", text(header))
    assert_rejected(loader, path, None, None, *texts)


# --------------------------------------------------------------------------- broken files

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    "name, loader, row, column, text",
    [
        ("acn_truncated.csv.gz", load_acn_sessions, None, None, "truncated or corrupt"),
        ("acn_not_gzip.csv.gz", load_acn_sessions, None, None, "cannot read"),
        ("acn_cut_mid_line.csv", load_acn_sessions, 5, None, "cut off"),
        ("acn_claimed_unknown.csv", load_acn_sessions, 3, "claimed",
         "got 'no'; must be True or False"),
        ("acn_empty_request.json", load_acn_sessions, 2, "kWhRequested", "missing field"),
        ("acn_items_not_objects.json", load_acn_sessions, 1, None,
         "got 1; an item must be a session object"),
        ("prices_missing_day.csv", load_day_ahead_prices, 26, "Datetime (UTC)",
         "24 h of data missing"),
    ],
)  # fmt: skip
def test_broken_fixture_file_is_rejected(name, loader, row, column, text):
    assert_rejected(loader, FIXTURES / name, row, column, text)


def test_claimed_false_stays_false_in_every_spelling(tmp_path):
    spellings = ["False", "false", "0", "FALSE"]
    rows = [ACN_ROWS[1].replace(",False", f",{word}") for word in spellings]
    sessions = load_acn_sessions(acn_csv(tmp_path, rows=[ACN_ROWS[0], *rows]))
    assert sessions["claimed"].tolist() == [True] + [False] * len(spellings)


def test_prices_short_gap_is_interpolated_with_a_warning():
    path = FIXTURES / "prices_missing_two_hours.csv"
    with pytest.warns(UserWarning, match=r"prices_missing_two_hours.csv: 2 h of data missing") as w:
        table = load_day_ahead_prices(path)
    assert "line 5" in str(w[0].message)
    hours = pd.date_range("2019-03-03 00:00", "2019-03-03 11:00", freq="h", tz="UTC")
    assert list(table["time"]) == list(hours)
    # EUR/MWh 40 + hour in the file; 03:00 and 04:00 lie on the line from 42 (02:00) to 45
    np.testing.assert_allclose(table["price_eur_per_kwh"] * 1000.0, 40.0 + np.arange(12))


def test_error_messages_show_plain_numbers(tmp_path):
    rows = [ACN_ROWS[0].replace(",15.5,", ",nan,"), ACN_ROWS[1]]
    path = acn_csv(tmp_path, rows=rows)
    with pytest.raises(DataFileError, match=r"got nan; must be a finite number") as err:
        load_acn_sessions(path)
    assert "np." not in str(err.value)
