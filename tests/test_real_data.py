"""Every file in ``../shared/data`` loads, with the row counts, time spans and units that
``PROVENANCE.md`` gives.

Expected values come from PROVENANCE.md or from the raw file read here with the ``csv`` /
``json`` modules, never from the loaders under test.
"""

from __future__ import annotations

import csv
import gzip
import json
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evgrid_gym.data.acn import load_acn_sessions
from evgrid_gym.data.elaad import ElaadSessionGenerator, load_elaad_statistics
from evgrid_gym.data.fleet import load_ev_specs
from evgrid_gym.data.nrel import load_nrel_wind
from evgrid_gym.data.prices import load_day_ahead_prices
from evgrid_gym.data.simbench import load_simbench_profiles

DATA = Path(__file__).parents[1] / ".." / "shared" / "data"

if not DATA.is_dir():
    pytest.skip(
        f"real data folder {DATA.resolve()} is absent (it holds the public files listed in "
        "PROVENANCE.md; see ../shared/data)",
        allow_module_level=True,
    )

ACN_FILES = sorted((DATA / "acn" / "caltech").glob("caltech_*.csv.gz"))
PRICES = DATA / "prices" / "netherlands_day_ahead_2015_2024.csv"
NREL = DATA / "wind" / "nrel_wtk_39.97_-128.77_2019_15min.csv"
HOUSEHOLDS = DATA / "simbench" / "household_load_profiles_2016_15min.csv"
RENEWABLES = DATA / "simbench" / "renewable_profiles_2016_15min.csv"
ELAAD = DATA / "elaad"
EV_SPECS = DATA / "ev_specs" / "ev_specs.json"
EV_SPECS_V2G = DATA / "ev_specs" / "ev_specs_v2g_enabled2024.json"


def raw_rows(path: Path, skip: int = 0) -> list[dict]:
    """A CSV(.gz) read with the csv module: one dict per data row (``skip`` lines first)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8-sig") as f:
        for _ in range(skip):
            next(f)
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------- ACN


@pytest.fixture(scope="module")
def acn():
    """{file: (loaded sessions, raw rows)}."""
    return {path: (load_acn_sessions(path), raw_rows(path)) for path in ACN_FILES}


def test_acn_files_and_session_count(acn):
    assert len(ACN_FILES) == 4  # PROVENANCE: 4 periods
    for sessions, raw in acn.values():
        assert len(sessions) == len(raw)
    assert sum(len(sessions) for sessions, _ in acn.values()) == 9_802


def test_acn_time_span_and_timezone(acn):
    everything = pd.concat([sessions for sessions, _ in acn.values()], ignore_index=True)
    for column in ("arrival", "departure", "estimated_departure"):
        assert str(everything[column].dt.tz) == "America/Los_Angeles"
    assert everything["arrival"].min().strftime("%Y-%m") == "2019-05"
    assert everything["arrival"].max().strftime("%Y-%m") == "2021-08"
    assert everything["departure"].max() < pd.Timestamp("2021-09-02", tz="America/Los_Angeles")
    assert (everything["departure"] > everything["arrival"]).all()
    # every period's sessions arrive within the period in the file name
    for path, (sessions, _) in acn.items():
        _, start, end = path.name.removesuffix(".csv.gz").split("_")
        first = pd.Timestamp(start, tz="America/Los_Angeles")
        last = pd.Timestamp(end, tz="America/Los_Angeles") + pd.Timedelta(days=1)
        assert sessions["arrival"].min() >= first and sessions["arrival"].max() < last


def test_acn_values_match_the_raw_file(acn):
    for sessions, raw in acn.values():
        assert sessions["session_id"].is_unique
        loaded = sessions.set_index("session_id").loc[[r["session_id"] for r in raw]]

        def column(name, raw=raw):
            return [r[name] for r in raw]

        # the file's local times with their UTC offsets, as Los Angeles times
        assert loaded["arrival"].astype(str).tolist() == column("arrival")
        assert loaded["departure"].astype(str).tolist() == column("departure")
        assert loaded["station_id"].tolist() == column("station_id")
        delivered = [float(v) for v in column("delivered_energy (kWh)")]
        assert loaded["energy_delivered_kwh"].tolist() == delivered
        claimed = np.array(column("claimed")) == "True"
        assert (loaded["claimed"].to_numpy() == claimed).all()
        requested = np.array([float(v) for v in column("requested_energy (kWh)")])
        np.testing.assert_array_equal(loaded["energy_requested_kwh"][claimed], requested[claimed])
        estimated = np.array(column("estimated_departure"))
        assert (loaded["estimated_departure"].astype(str)[claimed] == estimated[claimed]).all()


def test_acn_stations(acn):
    stations = {path.name: set(sessions["station_id"]) for path, (sessions, _) in acn.items()}
    for name, ids in stations.items():
        assert len(ids) <= 54 + 1  # 54 EVSEs in the garage
        other = {i for i in ids if not i.startswith("CA-")}
        # not in PROVENANCE.md: the 2021 file also holds station 11900388, a DC charger
        # (sessions average ~30 kW)
        assert other == ({"11900388"} if name.startswith("caltech_2021") else set())


def test_acn_energies_in_kwh(acn):
    for sessions, _ in acn.values():
        delivered = sessions["energy_delivered_kwh"]
        assert (delivered >= 0).all() and (sessions["energy_requested_kwh"] >= 0).all()
        # kWh, not Wh: a 6.7 kW Caltech EVSE (station CA-*) cannot deliver more than
        # ~6.7 kW x connection time
        hours = (sessions["departure"] - sessions["arrival"]).dt.total_seconds() / 3600
        level2 = sessions["station_id"].str.startswith("CA-")
        assert level2.mean() > 0.5
        assert (delivered[level2] <= 7.0 * hours[level2] + 1e-6).mean() > 0.99
        assert 1.0 < delivered.median() < 30.0
        unclaimed = ~sessions["claimed"]
        assert unclaimed.any()
        assert (sessions.loc[unclaimed, "energy_requested_kwh"] == delivered[unclaimed]).all()
        estimated = sessions.loc[unclaimed, "estimated_departure"]
        assert (estimated == sessions.loc[unclaimed, "departure"]).all()


# --------------------------------------------------------------------------- prices


def raw_price_hours() -> tuple[dict[datetime, float], int]:
    """{UTC hour: EUR/MWh} of the file's first row per hour, and the number of repeats."""
    prices: dict[datetime, float] = {}
    repeats = 0
    for row in raw_rows(PRICES):
        stamp = row["Datetime (UTC)"]
        if not stamp:
            assert row["Price (EUR/MWhe)"] == "0.0"  # the separator row `Netherlands,,,0.0`
            continue
        layout = "%d/%m/%Y %H:%M" if "/" in stamp else "%Y-%m-%d %H:%M:%S"
        hour = datetime.strptime(stamp, layout).replace(tzinfo=timezone.utc)
        if hour in prices:
            repeats += 1
        else:
            prices[hour] = float(row["Price (EUR/MWhe)"])
    return prices, repeats


@pytest.fixture(scope="module")
def prices():
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        table = load_day_ahead_prices(PRICES)
    raw, repeats = raw_price_hours()
    return table, raw, repeats, [str(w.message) for w in record]


def test_prices_overlap_dropped_with_warning(prices):
    _, _, repeats, messages = prices
    # PROVENANCE: the second block starts 2022-12-31 23:00 UTC, the first ends 2023-09-30
    # 23:00 UTC, so those hours appear twice
    overlap = datetime(2023, 9, 30, 23) - datetime(2022, 12, 31, 23)
    assert repeats == overlap // timedelta(hours=1) + 1 == 6_553
    assert any(f"dropped {repeats} rows" in message for message in messages)
    assert any(PRICES.name in message for message in messages)


def test_prices_hourly_utc_span(prices):
    table, raw, _, _ = prices
    times = table["time"]
    assert str(times.dt.tz) == "UTC"
    assert times.iloc[0] == pd.Timestamp("2015-01-01 00:00", tz="UTC")
    assert times.iloc[-1] == pd.Timestamp("2025-01-07 23:00", tz="UTC")
    assert times.is_unique and times.is_monotonic_increasing
    assert (times.dt.minute == 0).all()
    # every hour of the span is there once: the file's own, and the ones it lacks filled in
    every_hour = pd.date_range("2015-01-01", "2025-01-07 23:00", freq="h", tz="UTC")
    assert len(table) == len(every_hour)
    assert set(raw) <= {t.to_pydatetime() for t in times}


def test_prices_missing_hours_are_interpolated_with_a_warning(prices):
    table, raw, _, messages = prices
    every_hour = pd.date_range("2015-01-01", "2025-01-07 23:00", freq="h", tz="UTC")
    missing_in_file = sorted(set(every_hour.to_pydatetime()) - set(raw))
    # the file itself lacks two hours (not in PROVENANCE.md): 30 Dec 23:00 UTC, 2023 and 2024
    assert missing_in_file == [
        datetime(2023, 12, 30, 23, tzinfo=timezone.utc),
        datetime(2024, 12, 30, 23, tzinfo=timezone.utc),
    ]
    by_time = dict(zip(table["time"].dt.to_pydatetime(), table["price_eur_per_kwh"], strict=True))
    for hour in missing_in_file:  # one missing hour: the mean of its neighbours
        before, after = raw[hour - timedelta(hours=1)], raw[hour + timedelta(hours=1)]
        assert by_time[hour] == pytest.approx((before + after) / 2000.0, abs=1e-12)
        assert any(PRICES.name in m and str(hour.year) in m for m in messages), messages


def test_prices_in_eur_per_kwh(prices):
    table, raw, _, _ = prices
    price = table["price_eur_per_kwh"]
    assert 0.01 < price.median() < 0.5
    assert min(raw.values()) == -500.0  # PROVENANCE: down to -500 EUR/MWh
    assert price.min() == pytest.approx(-0.5)
    assert (price < 0).sum() == sum(value < 0 for value in raw.values())
    in_file = table["time"].dt.to_pydatetime()
    in_file = np.array([t in raw for t in in_file])
    expected = np.array([raw[t] for t in sorted(raw)]) / 1000.0
    np.testing.assert_allclose(price.to_numpy()[in_file], expected, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- NREL


def test_nrel_wind_2019_15min_at_100m():
    with open(NREL, newline="") as f:
        metadata = next(csv.reader(f))
    raw = raw_rows(NREL, skip=1)
    wind = load_nrel_wind(NREL)
    assert len(raw) == len(wind) == 35_040  # 365 days x 96
    assert wind.attrs["measurement_height_m"] == 100.0
    assert "wind speed at 100m (m/s)" in raw[0]
    offset = timedelta(hours=float(metadata[metadata.index("Data Timezone") + 1]))
    first = datetime(*(int(raw[0][k]) for k in ("Year", "Month", "Day", "Hour", "Minute")))
    assert wind["time"].iloc[0] == pd.Timestamp(first - offset, tz="UTC")
    assert wind["time"].iloc[0] == pd.Timestamp("2019-01-01 00:00", tz="UTC")
    assert wind["time"].iloc[-1] == pd.Timestamp("2019-12-31 23:45", tz="UTC")
    assert (wind["time"].diff().dropna() == pd.Timedelta(minutes=15)).all()
    speeds = np.array([float(r["wind speed at 100m (m/s)"]) for r in raw])
    np.testing.assert_array_equal(wind["wind_speed_m_s"].to_numpy(), speeds)
    assert 0.0 <= speeds.min() and speeds.max() < 50.0  # m/s
    assert 3.0 < speeds.mean() < 15.0


# --------------------------------------------------------------------------- SimBench


def check_simbench_time(table: pd.DataFrame, raw: list[dict]):
    assert len(table) == 35_136  # 2016 is a leap year: 366 days x 96
    # German local time: the file skips 27.03. 02:00..02:45 and repeats 30.10. 02:00..02:45
    stamps = [r["time"] for r in raw]
    assert "27.03.2016 02:00" not in stamps and "27.03.2016 03:00" in stamps
    assert stamps.count("30.10.2016 02:00") == 2 and len(set(stamps)) == len(stamps) - 4
    assert str(table["time"].dt.tz) == "Europe/Berlin"
    assert table["time"].iloc[0] == pd.Timestamp("2015-12-31 23:00", tz="UTC")
    assert table["time"].iloc[-1] == pd.Timestamp("2016-12-31 22:45", tz="UTC")
    assert table["time"].is_unique
    assert (table["time"].diff().dropna() == pd.Timedelta(minutes=15)).all()
    assert list(table["time"].dt.strftime("%d.%m.%Y %H:%M")) == stamps


def test_simbench_households():
    raw = raw_rows(HOUSEHOLDS)
    table = load_simbench_profiles(HOUSEHOLDS)
    assert len(raw) == 35_136
    check_simbench_time(table, raw)
    profiles = [c.removesuffix("_pload") for c in raw[0] if c != "time"]
    assert profiles == ["H0-A", "H0-B", "H0-C", "H0-G", "H0-H", "H0-L"]
    assert list(table.columns) == ["time"] + [f"{p}_pu" for p in profiles]
    for profile in profiles:
        values = table[f"{profile}_pu"]
        assert values.max() == 1.0  # per unit of the annual peak
        assert values.min() >= 0.0
        assert values.iloc[-1] == float(raw[-1][f"{profile}_pload"])


def test_simbench_renewables():
    raw = raw_rows(RENEWABLES)
    table = load_simbench_profiles(RENEWABLES)
    assert len(raw) == 35_136
    check_simbench_time(table, raw)
    names = [f"PV{i}" for i in range(1, 9)] + [f"WP{i}" for i in range(1, 13)]
    assert [c for c in raw[0] if c != "time"] == names
    assert list(table.columns) == ["time"] + [f"{n}_pu" for n in names]
    values = table.drop(columns="time")
    assert values.to_numpy().max() <= 1.0 and values.to_numpy().min() > -1e-4  # per unit
    for name in names:
        assert table[f"{name}_pu"].iloc[12 * 4 * 180] == float(raw[12 * 4 * 180][name])
    # PV: nothing at night, most around midday (local time)
    pv = table[[f"PV{i}_pu" for i in range(1, 9)]]
    hour = table["time"].dt.hour
    assert (pv[hour.isin([0, 1, 2, 22, 23])] == 0).all().all()
    assert (pv[hour.isin([12, 13])].mean() > 0.1).all()


# --------------------------------------------------------------------------- ElaadNL


def test_elaad_statistics():
    stats = load_elaad_statistics(ELAAD)
    weekday = raw_rows(ELAAD / "distribution-of-arrival.csv")
    weekend = raw_rows(ELAAD / "distribution-of-arrival-weekend.csv")
    assert len(weekday) == len(weekend) == 96
    assert list(stats.arrival_weekday_pct.index) == [r["Arrival time"] for r in weekday]
    assert stats.arrival_weekday_pct.index[0] == "00:00"
    assert stats.arrival_weekday_pct.index[-1] == "23:45"
    for table in (stats.arrival_weekday_pct, stats.arrival_weekend_pct):
        assert table.shape == (96, 3)
        np.testing.assert_allclose(table.sum().to_numpy(), 100.0, atol=0.5)  # percent
    for site in ("private", "public", "workplace"):
        raw_sum = sum(float(r[site]) for r in weekday)
        assert stats.arrival_weekday_pct[site].sum() == pytest.approx(raw_sum)
    for name, table in (
        ("distribution-of-connection-time.csv", stats.connection_time_h),
        ("distribution-of-energy-demand.csv", stats.energy_demand_kwh),
    ):
        raw = raw_rows(ELAAD / name)
        assert len(raw) == len(table) == 101
        median = next(r for r in raw if r["Percentage of charging events"] == "50")
        for site in ("private", "public", "workplace"):
            assert table.loc[50, site] == float(median[site])
            assert (np.diff(table[site].to_numpy()) <= 0).all()  # exceeded by more: smaller


def test_elaad_generator_on_real_statistics():
    stats = load_elaad_statistics(ELAAD)
    median = {
        name: next(r for r in raw_rows(ELAAD / name) if r["Percentage of charging events"] == "50")
        for name in ("distribution-of-connection-time.csv", "distribution-of-energy-demand.csv")
    }
    _, connection_h, energy_kwh = ElaadSessionGenerator(stats, "public").sample(
        np.random.default_rng(5), 50_000, False
    )
    expected = float(median["distribution-of-connection-time.csv"]["public"])
    assert np.median(connection_h) == pytest.approx(expected, rel=0.05)
    expected = float(median["distribution-of-energy-demand.csv"]["public"])
    assert np.median(energy_kwh) == pytest.approx(expected, rel=0.05)


# --------------------------------------------------------------------------- EV specs


def test_ev_specs():
    raw = json.loads(EV_SPECS.read_text())
    fleet = load_ev_specs(EV_SPECS)
    assert len(raw) == len(fleet) == 13  # counted in the file by hand
    assert list(fleet["model"]) == list(raw)
    assert list(fleet["registrations"]) == [m["number_of_registrations"] for m in raw.values()]
    assert list(fleet["battery_kwh"]) == [m["battery_capacity"] for m in raw.values()]
    assert fleet["battery_kwh"].between(20, 120).all()  # kWh
    assert fleet["max_ac_kw"].between(3, 23).all() and fleet["max_dc_kw"].between(30, 350).all()
    # no model of this file has the AC V2G flag, so none may discharge
    assert all(m["ac_v2g"] == "no" for m in raw.values())
    assert (fleet["max_v2g_kw"] == 0).all()


def test_ev_specs_v2g():
    raw = json.loads(EV_SPECS_V2G.read_text())
    fleet = load_ev_specs(EV_SPECS_V2G)
    assert len(fleet) == len(raw) == 8
    capable = [m["max_ac_discharge_power"] for m in raw.values()]
    assert all(kw > 0 for kw in capable)  # the file has no flags: all V2G capable
    assert list(fleet["max_v2g_kw"]) == capable
    assert (fleet["max_v2g_kw"] <= fleet["max_ac_kw"]).all()


def test_every_file_is_covered():
    """A file added to ../shared/data must get a test here too."""
    covered = {*ACN_FILES, PRICES, NREL, HOUSEHOLDS, RENEWABLES, EV_SPECS, EV_SPECS_V2G}
    covered |= {p for p in ELAAD.glob("*.csv")}
    files = {p for p in DATA.rglob("*") if p.is_file() and p.name != "PROVENANCE.md"}
    assert files == covered
    assert len(list(ELAAD.glob("*.csv"))) == 7
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats = load_elaad_statistics(ELAAD)  # all seven ElaadNL files, without warnings
    assert list(stats.daily_charging.index) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
