"""The station service's HTTP API on a hand-sized station: seed 003's rules as worked cases,
energy over time, errors that change nothing, API keys, the past-session log, OCPP profiles,
restarts, seed 003's JSON config, the periodic tick and the ``serve`` command line."""

from __future__ import annotations

import datetime
import json
import time

import jsonschema
import pytest

pytest.importorskip("fastapi")

from service_helpers import hand_client, hand_service, hand_station, plug  # noqa: E402

from evgrid_gym.cli import main  # noqa: E402
from evgrid_gym.config import ScenarioError, load_scenario  # noqa: E402
from evgrid_gym.service import WallClock, build_service, create_app  # noqa: E402
from evgrid_gym.service.auth import ApiKeys  # noqa: E402
from evgrid_gym.service.profiles import charging_profiles  # noqa: E402
from evgrid_gym.service.station_json import load_station_json  # noqa: E402

QUARTER = datetime.timedelta(minutes=15)
TOL_KW = 1e-3  # the heuristics keep 1e-6 of every limit as a margin


def _allocations(client, station="s") -> dict[tuple[str, str], float]:
    status = client.get(f"/stations/{station}/status").json()
    return {
        (s["charger_id"], s["connector_id"]): s["allocated_power_kw"] for s in status["sessions"]
    }


# --- seed 003 (Electra) rules, worked by hand ------------------------------------------------


def test_uniformisation_when_demand_exceeds_the_grid(tmp_path):
    client, _, _ = hand_client(tmp_path / "a.db", "equal_share")
    for charger in ("1", "2", "3"):
        assert plug(client, charger, kw=50.0).status_code == 201
    # demand 150 kW > grid 100 kW: every session gets 100 / 3
    for kw in _allocations(client).values():
        assert kw == pytest.approx(100.0 / 3.0, abs=TOL_KW)


def test_chargers_share_their_power_when_the_grid_suffices(tmp_path):
    client, _, _ = hand_client(tmp_path / "a.db", "equal_share")
    plug(client, "1", "1", kw=40.0)
    plug(client, "1", "2", kw=40.0)
    plug(client, "2", kw=10.0)
    # demand 90 kW <= grid: charger 1 splits its 60 kW, charger 2 grants everything
    assert _allocations(client) == pytest.approx(
        {("1", "1"): 30.0, ("1", "2"): 30.0, ("2", "1"): 10.0}, abs=TOL_KW
    )


def test_bess_boosts_while_its_soc_is_at_least_20_percent(tmp_path):
    client, _, clock = hand_client(tmp_path / "a.db", "bess_boost", bess_soc=0.3)
    ids = [plug(client, c, kw=50.0).json()["session"]["session_id"] for c in ("1", "2", "3")]
    status = client.get("/stations/s/status").json()
    # demand 150 kW: grid 100 kW + BESS 50 kW serve every EV in full; the third one plugged in
    # is the one the grid does not cover (seed 003's boost session)
    assert [s["allocated_power_kw"] for s in status["sessions"]] == pytest.approx(
        [50.0] * 3, abs=TOL_KW
    )
    assert status["bess"]["power_kw"] == pytest.approx(-50.0, abs=TOL_KW)
    assert status["boosted_session_ids"] == [ids[2]]
    assert status["grid_power_kw"] == pytest.approx(100.0, abs=TOL_KW)
    # 15 minutes at 50 kW (efficiency 1) take 12.5 kWh: soc 0.3 -> 0.175 < 0.2, so the next
    # periodic decision stops the boost and uniformises the grid again
    clock.advance(QUARTER)
    status = client.get("/stations/s/status").json()
    assert status["bess"]["soc"] == pytest.approx(0.3 - 12.5 / 100.0, abs=1e-6)
    assert status["decided_at"] == "2019-07-15T00:15:00Z"
    assert status["bess"]["power_kw"] == 0.0 and status["boosted_session_ids"] == []
    assert [s["allocated_power_kw"] for s in status["sessions"]] == pytest.approx(
        [100.0 / 3.0] * 3, abs=TOL_KW
    )


def test_no_boost_below_20_percent(tmp_path):
    client, _, _ = hand_client(tmp_path / "a.db", "bess_boost", bess_soc=0.15)
    for charger in ("1", "2", "3"):
        plug(client, charger, kw=50.0)
    status = client.get("/stations/s/status").json()
    assert status["bess"]["power_kw"] == 0.0
    assert list(_allocations(client).values()) == pytest.approx([100.0 / 3.0] * 3, abs=TOL_KW)


@pytest.mark.parametrize(("ev_kw", "bess_kw"), [(30.0, 50.0), (60.0, 0.0)])
def test_bess_recharges_when_more_than_half_the_grid_is_free(tmp_path, ev_kw, bess_kw):
    client, _, _ = hand_client(tmp_path / "a.db", "bess_boost")
    plug(client, "2", kw=ev_kw)
    # free 70 kW > 50 kW: the BESS charges at its 50 kW; free 40 kW: it does not
    assert client.get("/stations/s/status").json()["bess"]["power_kw"] == pytest.approx(
        bess_kw, abs=TOL_KW
    )


# --- energy between decisions ------------------------------------------------------------------


def test_energy_follows_the_allocation_and_stops_at_the_request(tmp_path):
    client, _, clock = hand_client(tmp_path / "a.db", "greedy_fcfs")
    known = plug(client, "2", kw=50.0, soc=0.2, battery_capacity_kwh=60.0,
                 energy_requested_kwh=10.0).json()["session"]  # fmt: skip
    unknown = plug(client, "3", kw=40.0, energy_requested_kwh=30.0).json()["session"]
    # 10 kWh in a 15-minute tick: 40 kW, then nothing; the unknown battery takes 40 kW until
    # its 30 kWh are in: 10 + 10 + 10 kWh over three ticks
    assert known["allocated_power_kw"] == pytest.approx(40.0, abs=TOL_KW)
    clock.advance(datetime.timedelta(minutes=50))
    status = client.get("/stations/s/status").json()
    by_id = {s["session_id"]: s for s in status["sessions"]}
    assert by_id[known["session_id"]]["delivered_kwh"] == pytest.approx(10.0, abs=1e-3)
    assert by_id[known["session_id"]]["soc"] == pytest.approx(0.2 + 10.0 / 60.0, abs=1e-5)
    assert by_id[known["session_id"]]["allocated_power_kw"] == pytest.approx(0.0, abs=TOL_KW)
    assert by_id[unknown["session_id"]]["soc"] is None
    closed = client.delete(f"/stations/s/sessions/{unknown['session_id']}").json()["session"]
    assert closed["delivered_kwh"] == pytest.approx(30.0, abs=1e-3)
    assert closed["closed_at"] == "2019-07-15T00:50:00Z"


# --- bad requests change nothing ---------------------------------------------------------------

BAD_REQUESTS = [
    # (method, path, body or raw bytes, status, text the answer must contain)
    ("post", "/stations/nope/sessions", {"charger_id": "1", "connector_id": "1",
     "vehicle_max_power_kw": 5.0}, 404, "'nope'"),
    ("post", "/stations/s/sessions", {"charger_id": "9", "connector_id": "1",
     "vehicle_max_power_kw": 5.0}, 404, "charger '9'"),
    ("post", "/stations/s/sessions", {"charger_id": "2", "connector_id": "2",
     "vehicle_max_power_kw": 5.0}, 404, "connector '2'"),
    ("post", "/stations/s/sessions", {"charger_id": "1", "connector_id": "1",
     "vehicle_max_power_kw": 5.0}, 409, "in use"),
    ("post", "/stations/s/sessions", {"charger_id": "2", "connector_id": "1",
     "vehicle_max_power_kw": -5.0}, 422, "vehicle_max_power_kw"),
    ("post", "/stations/s/sessions", b'{"charger_id": "2", "connector_id": "1", '
     b'"vehicle_max_power_kw": NaN}', 422, "vehicle_max_power_kw"),
    ("post", "/stations/s/sessions", {"charger_id": "2", "connector_id": "1",
     "vehicle_max_power_kw": "fast"}, 422, "vehicle_max_power_kw"),
    ("post", "/stations/s/sessions", {"charger_id": "2", "connector_id": "1",
     "vehicle_max_power_kw": 5.0, "soc": 1.5, "battery_capacity_kwh": 50.0}, 422, "soc"),
    ("post", "/stations/s/sessions", {"charger_id": "2", "connector_id": "1",
     "vehicle_max_power_kw": 5.0, "soc": 0.5}, 422, "battery_capacity_kwh"),
    ("post", "/stations/s/sessions", {"charger_id": "2", "connector_id": "1",
     "vehicle_max_power_kw": 5.0, "soc": 0.5, "battery_capacity_kwh": 50.0,
     "energy_requested_kwh": 30.0}, 422, "energy_requested_kwh"),
    ("post", "/stations/s/sessions", {"charger_id": "2", "connector_id": "1",
     "vehicle_max_power_kw": 5.0, "departure": "2019-07-14T23:00:00+00:00"}, 422, "departure"),
    ("post", "/stations/s/sessions", {"charger_id": "2", "connector_id": "1",
     "vehicle_max_power_kw": 5.0, "departure": "2019-07-15T10:00:00"}, 422, "departure"),
    ("post", "/stations/s/sessions", {"charger_id": "2", "connector_id": "1",
     "vehicle_max_power_kw": 5.0, "colour": "red"}, 422, "colour"),
    ("post", "/stations/s/sessions", b'{"charger_id": "2", ', 422, "json"),
    ("delete", "/stations/s/sessions/nope", None, 404, "'nope'"),
    ("delete", "/stations/nope/sessions/x", None, 404, "'nope'"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "code", "names"), BAD_REQUESTS)
def test_a_bad_request_is_answered_and_changes_nothing(tmp_path, method, path, body, code, names):
    client, service, clock = hand_client(tmp_path / "a.db")
    assert plug(client, "1", "1", kw=50.0).status_code == 201
    clock.advance(datetime.timedelta(minutes=7))  # energy flows until the request
    before = service.store.read("s")
    if isinstance(body, bytes):
        r = client.request(method, path, content=body, headers={"content-type": "application/json"})
    else:
        r = client.request(method, path, json=body)
    assert r.status_code == code, r.text
    assert names in r.text
    assert service.store.read("s") == before


# --- API keys ----------------------------------------------------------------------------------


def test_api_keys_guard_the_mutating_endpoints(tmp_path):
    keys = ApiKeys({"key-s": ["s"], "key-other": [], "master": "*"}, ["s"])
    client, service, _ = hand_client(tmp_path / "a.db", api_keys=keys)
    body = {"charger_id": "1", "connector_id": "1", "vehicle_max_power_kw": 5.0}
    before = service.store.read("s")
    for headers, code in (
        ({}, 401),
        ({"X-API-Key": "wrong"}, 401),
        ({"X-API-Key": "key-other"}, 403),
    ):
        assert client.post("/stations/s/sessions", json=body, headers=headers).status_code == code
    assert service.store.read("s") == before
    assert client.get("/stations/s/status").status_code == 200  # reading needs no key
    session = client.post("/stations/s/sessions", json=body, headers={"X-API-Key": "key-s"})
    assert session.status_code == 201
    sid = session.json()["session"]["session_id"]
    assert client.delete(f"/stations/s/sessions/{sid}").status_code == 401
    assert (
        client.delete(f"/stations/s/sessions/{sid}", headers={"X-API-Key": "master"}).status_code
        == 200
    )
    assert not any("key-s" in repr(v) for v in vars(keys).values())  # only hashes are kept


@pytest.mark.parametrize(
    ("grants", "message"),
    [
        ({"k": ["elsewhere"]}, "unknown stations"),
        ({"k": "all"}, "must be"),
        ({"": "*"}, "non-empty"),
    ],
)
def test_bad_api_key_files_are_refused(tmp_path, grants, message):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(grants))
    with pytest.raises(ValueError, match=message):
        ApiKeys.load(path, ["s"])


# --- the past-session log ----------------------------------------------------------------------


def test_closed_sessions_are_logged_paginated_and_exported(tmp_path):
    client, _, clock = hand_client(tmp_path / "a.db")
    closed = []
    for _ in range(5):
        sid = plug(client, "2", kw=20.0).json()["session"]["session_id"]
        clock.advance(datetime.timedelta(minutes=3))
        closed.append(client.delete(f"/stations/s/sessions/{sid}").json()["session"])
    pages, cursor = [], None
    while True:
        params = {"state": "closed", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/stations/s/sessions", params=params).json()
        pages.append(page["sessions"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [s for p in pages for s in p] == closed
    since = client.get("/stations/s/sessions", params={"since": closed[3]["closed_at"]}).json()
    assert [s["session_id"] for s in since["sessions"]] == [s["session_id"] for s in closed[3:]]
    csv = client.get("/stations/s/sessions", headers={"Accept": "text/csv"}).text.splitlines()
    assert csv[0].split(",")[:2] == ["session_id", "number"] and len(csv) == 6
    assert csv[1].startswith(closed[0]["session_id"])
    assert client.get("/stations/s/sessions", params={"cursor": "x"}).status_code == 422
    assert (
        client.get("/stations/s/sessions", params={"since": "2019-07-15T00:00:00"}).status_code
        == 422
    )
    active = client.get("/stations/s/sessions", params={"state": "active"}).json()
    assert active == {"sessions": [], "next_cursor": None}


# --- OCPP 2.0.1 charging profiles ---------------------------------------------------------------


def test_charging_profiles_carry_the_allocation_in_watts(tmp_path):
    client, service, _ = hand_client(tmp_path / "a.db", "equal_share")
    plug(client, "1", "1", kw=40.0, transaction_id="tx-1")
    plug(client, "1", "2", kw=40.0)
    messages = client.get("/stations/s/charging-profiles").json()
    by_evse = {(m["charger_id"], m["evse_id"]): m["payload"] for m in messages}
    assert sorted(by_evse) == [("1", 0), ("1", 1), ("1", 2), ("2", 0), ("3", 0)]
    tx = by_evse[("1", 1)]["chargingProfile"]
    assert tx["chargingProfilePurpose"] == "TxProfile" and tx["transactionId"] == "tx-1"
    limit = tx["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"]
    assert limit == pytest.approx(30_000.0, abs=1.0) and round(limit, 1) == limit
    station = by_evse[("1", 0)]["chargingProfile"]
    assert station["chargingProfilePurpose"] == "ChargingStationMaxProfile"
    assert station["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] == pytest.approx(
        60_000.0, abs=1.0
    )
    assert by_evse[("2", 0)]["chargingProfile"]["chargingSchedule"][0][
        "chargingSchedulePeriod"][0]["limit"] == 0.0  # fmt: skip
    # the schema check bites: a profile purpose OCPP does not know is refused
    status = service.status("s")
    broken = status.model_copy(update={"sessions": [
        s.model_copy(update={"transaction_id": "x" * 37}) for s in status.sessions
    ]})  # fmt: skip
    with pytest.raises(jsonschema.ValidationError, match="too long"):
        charging_profiles(service.topology("s"), broken)


# --- durability --------------------------------------------------------------------------------


def test_a_restarted_service_resumes_the_stored_state(tmp_path):
    client, service, clock = hand_client(tmp_path / "a.db")
    plug(client, "2", kw=30.0, soc=0.1, battery_capacity_kwh=80.0)
    clock.advance(datetime.timedelta(minutes=20))
    before = service.status("s")
    service.store.close()
    again, _ = hand_service(tmp_path / "a.db", clock=clock)
    assert again.status("s") == before
    clock.advance(QUARTER)
    assert again.status("s").sessions[0].delivered_kwh == pytest.approx(30.0 * 35 / 60, abs=1e-3)


def test_a_database_of_another_scenario_is_refused(tmp_path):
    client, service, clock = hand_client(tmp_path / "a.db")
    plug(client, "1", "2", kw=30.0)
    service.store.close()
    other = hand_station()
    other["stations"][0]["chargers"] = [{"max_power_kw": 60.0, "count": 3}]  # no connector 2
    with pytest.raises(ValueError, match="connector '2'"):
        build_service(load_scenario(other), "bess_boost", f"sqlite:///{tmp_path / 'a.db'}",
                      clock=clock)  # fmt: skip


def test_the_periodic_tick_decides_on_the_wall_clock(tmp_path):
    from fastapi.testclient import TestClient

    config = load_scenario(hand_station())
    service = build_service(config, "bess_boost", f"sqlite:///{tmp_path / 'a.db'}",
                            clock=WallClock(), tick_s=0.2)  # fmt: skip
    first = service.store.read("s")[1].decided_at
    with TestClient(create_app(service, ticker=True)):
        time.sleep(1.0)
        stored = service.store.read("s")[1]
    assert stored.decided_at > first and stored.as_of == stored.decided_at


# --- seed 003's station_config.json ------------------------------------------------------------


def test_seed_003_station_config_json(tmp_path):
    path = tmp_path / "station_config.json"
    path.write_text(json.dumps({
        "stationId": "ELECTRA_PARIS_15", "gridCapacity": 400,
        "chargers": [{"id": "CP001", "maxPower": 200, "connectors": 2},
                     {"id": "CP002", "maxPower": 150, "connectors": 1}],
        "battery": {"initialCapacity": 200, "power": 100},
    }))  # fmt: skip
    config = load_station_json(path)
    (station,) = config.stations
    assert (station.id, station.grid_capacity_kw, station.bess.capacity_kwh) == (
        "ELECTRA_PARIS_15", 400.0, 200.0)  # fmt: skip
    assert station.bess.power_kw == 100.0 and station.bess.initial_soc == station.bess.soc_min
    service = build_service(config, "bess_boost", f"sqlite:///{tmp_path / 'a.db'}")
    topology = service.topology("ELECTRA_PARIS_15")
    assert [(c.charger_id, c.max_power_kw, c.kind, c.connector_ids) for c in topology.chargers] == [
        ("CP001", 200.0, "DC", ["1", "2"]), ("CP002", 150.0, "DC", ["1"])]  # fmt: skip
    path.write_text(json.dumps({"stationId": "x", "gridCapacity": -4, "chargers": []}))
    with pytest.raises(ScenarioError, match=r"gridCapacity: got -4") as err:
        load_station_json(path)
    assert "chargers" in str(err.value)


# --- the command line --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--host", "0.0.0.0"], "--api-keys"),
        (["--policy", "optimal"], "policy: got 'optimal'"),
        (["--policy", "edf", "--agent", __file__], "one of them"),
        (["--tick-s", "3600"], "tick_s"),
        (["--db", "nosuchdb://x"], "nosuchdb"),
    ],
)
def test_serve_refuses_bad_flags_in_one_line(tmp_path, capsys, argv, message):
    db = ["--db", f"sqlite:///{tmp_path / 'a.db'}"] if "--db" not in argv else []
    assert main(["serve", *db, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
