"""The live dashboard: market and event views, the JSON API, the CLI, and the page in chromium."""

from __future__ import annotations

import base64
import io
import time

import numpy as np
import pytest
from PIL import Image

from baselines.benchmark import policy_factories
from evgrid_gym import EVGridEnv, load_scenario
from evgrid_gym.cli import main
from evgrid_gym.core import layout as L
from evgrid_gym.viz.events import tick_events
from evgrid_gym.viz.market import market_of_tick
from evgrid_gym.viz.state import frame_state

fastapi = pytest.importorskip("fastapi", reason="the dashboard needs the [dashboard] extra")
from fastapi.testclient import TestClient  # noqa: E402

from evgrid_gym.viz.dashboard.app import create_app  # noqa: E402
from evgrid_gym.viz.dashboard.headless import chromium_page, chromium_path, served  # noqa: E402
from evgrid_gym.viz.dashboard.player import GRID_IMAGE_SIZE  # noqa: E402

SCHEDULED = [
    {"component": "charger", "index": 1, "start_tick": 2, "duration_ticks": 3},
    {"component": "station_link", "index": 0, "start_tick": 5},
]


def _episode_states(env, seed: int):
    """``[(before, after)]`` frame states of every tick of an episode at full power."""
    env.reset(seed=seed)
    before, pairs, terminated = frame_state(env), [], False
    while not terminated:
        terminated = env.step(np.ones(env.action_space.shape, np.float32))[2]
        after = frame_state(env)
        pairs.append((before, after))
        before = after
    return pairs


def test_market_view_splits_own_energy_as_the_core_cleared_it():
    # little wind: own energy runs out within the stations' bids on many ticks
    env = EVGridEnv("scenario2_high_demand")
    partial = 0
    for before, after in _episode_states(env, seed=3):
        market = market_of_tick(before, after)
        consumers = market["consumers"]
        own = sum(c["own_kwh"] for c in consumers)
        external = sum(c["external_kwh"] for c in consumers)
        assert own == pytest.approx(after.kpi_value("own_energy_used_kwh"), abs=1e-9)
        assert external == pytest.approx(after.kpi_value("external_energy_kwh"), abs=1e-9)
        kwh, price = market["merit_order"]["kwh"], market["merit_order"]["price"]
        assert np.all(np.diff(kwh) >= -1e-12) and np.all(np.diff(price[1:]) <= 1e-12)
        households = consumers[0]["demand_kwh"]
        stations = consumers[1:]
        if not households < market["own_used_kwh"] < kwh[-1] - 1e-9:
            continue
        # the bid at the split point is the threshold: each station takes its bids above it
        i = int(np.searchsorted(kwh, market["own_used_kwh"]))
        threshold = price[i - 1] + (market["own_used_kwh"] - kwh[i - 1]) * (
            price[i] - price[i - 1]
        ) / (kwh[i] - kwh[i - 1])
        storage = before.storage_kwh
        for s, station in enumerate(stations):
            demand = station["demand_kwh"] if station["in_market"] else 0.0
            take = min(max((station["bid_eur_per_kwh"] - threshold) * storage[s], 0.0), demand)
            assert take == pytest.approx(station["own_kwh"], abs=1e-6)
            partial += 0 < station["own_kwh"] < demand - 1e-6
    assert partial > 0, "no tick split a station's demand between own and external energy"


def test_events_count_the_reservations_and_outages_of_the_episode(tiny_scenario):
    data = tiny_scenario({"faults.scheduled": SCHEDULED})
    env = EVGridEnv(data)
    pairs = _episode_states(env, seed=0)
    kinds = [[event["kind"] for event in tick_events(b, a)] for b, a in pairs]
    times = {pairs[t][1].tick: k for t, k in enumerate(kinds)}
    assert times[2] == ["outage"] and times[5] == ["repair", "outage"]
    assert times[6] == ["repair"]
    # the station's link is down during tick 5: its demand is not bid in that tick's market
    in_market = [market_of_tick(b, a)["consumers"][1]["in_market"] for b, a in pairs]
    assert in_market == [t != 5 for t in range(8)]
    # scenario 1 reserves by contract net: every request and answer shows up once
    env = EVGridEnv("scenario1_normal")
    pairs = _episode_states(env, seed=2)
    counted: dict[str, int] = {}
    for before, after in pairs:
        for event in tick_events(before, after):
            counted[event["kind"]] = counted.get(event["kind"], 0) + 1
    first, last = pairs[0][0].kpi_total, pairs[-1][1].kpi_total
    for kind, kpi in (("request", "reservation_requests"), ("rejected", "reservations_rejected"),
                      ("served", "reservations_served"), ("no_show", "no_shows")):  # fmt: skip
        expected = last[L.KPI[kpi]] - first[L.KPI[kpi]]
        assert counted.get(kind, 0) == expected, kind
    assert counted["request"] > 10


@pytest.fixture
def client(tiny_scenario):
    config = load_scenario(tiny_scenario({"faults.scheduled": SCHEDULED}))
    policies = policy_factories(["uncontrolled", "edf"])
    return TestClient(create_app(config, policies, "edf", speed=5.0, seed=3))


def test_api_plays_an_episode_to_its_end(client):
    setup = client.get("/api/setup").json()
    assert setup["policies"] == ["edf", "uncontrolled"] and setup["policy"] == "edf"
    assert setup["speed"] == 5.0 and setup["episode_ticks"] == 8
    started = client.post("/api/episodes", json={"policy": "uncontrolled", "seed": 1})
    assert started.status_code == 201
    episode = started.json()["id"]
    first = started.json()["frame"]
    assert first["tick"] == 0 and first["flows"] is None and first["market"] is None
    png = base64.b64decode(first["grid_png"].split(",", 1)[1])
    assert Image.open(io.BytesIO(png)).size == GRID_IMAGE_SIZE
    frames = [client.post(f"/api/episodes/{episode}/step").json() for _ in range(8)]
    assert [f["tick"] for f in frames] == list(range(1, 9))
    assert frames[-1]["done"] and not frames[-2]["done"]
    assert all(f["flows"] is not None and f["market"] is not None for f in frames)
    kinds = [e["kind"] for f in frames for e in f["events"]]
    assert kinds.count("outage") == 2 and kinds.count("repair") == 2
    ended = client.post(f"/api/episodes/{episode}/step")
    assert ended.status_code == 409 and "ended" in ended.json()["detail"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"policy": "nope", "seed": 0}, ["policy", "'nope'", "edf"]),
        ({"policy": "edf", "seed": -1}, ["seed"]),
        ({"policy": "edf", "seed": 0, "speed": 3}, ["speed"]),
        ({"seed": 0}, ["policy"]),
    ],
)
def test_api_rejects_bad_bodies_naming_the_field(client, body, words):
    response = client.post("/api/episodes", json=body)
    assert response.status_code == 422
    text = str(response.json()["detail"])
    for word in words:
        assert word in text


def test_api_unknown_episode_is_404(client):
    assert client.post("/api/episodes/999/step").status_code == 404


def test_page_loads_everything_from_the_server(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "http://" not in page.text and "https://" not in page.text
    plotly = client.get("/plotly.min.js")
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
    assert "javascript" in plotly.headers["content-type"]
    for name in ("dashboard.js", "dashboard.css"):
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200 and "https://" not in asset.text


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--policy", "nope"], ["policy", "'nope'"]),
        (["--speed", "0"], ["speed", "0"]),
        (["--scenario", "no_such_scenario"], ["no_such_scenario"]),
        (["--seed", "-1"], ["seed", "-1"]),
        (["--port", "70000"], ["port", "70000"]),
        (["--agent", "no/model.zip"], ["agent", "no/model.zip"]),
    ],
)
def test_cli_dashboard_bad_flags_exit_2_with_one_line(capsys, argv, words):
    assert main(["dashboard", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("evgrid-gym: error:") and len(err.splitlines()) == 1
    for word in words:
        assert word in err


# --- the page in a real headless browser ------------------------------------------------------


@pytest.mark.skipif(chromium_path() is None, reason="no chromium here (apt-get install chromium)")
def test_page_plays_ticks_in_chromium(tmp_path):
    pytest.importorskip("playwright.sync_api", reason="needs playwright (dev extra)")
    app = create_app(load_scenario("default"), policy_factories(["edf", "uncontrolled"]), "edf",
                     speed=20.0)  # fmt: skip
    messages: list[str] = []
    shot = tmp_path / "dashboard.png"
    with served(app) as url, chromium_page() as page:
        page.on("console", lambda m: messages.append(f"{m.type}: {m.text}") if m.type in (
            "error", "warning") else None)  # fmt: skip
        page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
        page.goto(url)
        page.wait_for_function("() => window.dashboard && window.dashboard.tick >= 6",
                               timeout=60_000)  # fmt: skip
        assert page.evaluate("() => dashboard.errors") == []
        assert page.inner_text("#tick").startswith("tick ")
        page.click("#play")  # pause: the tick stops advancing
        time.sleep(0.3)
        paused = page.evaluate("() => dashboard.tick")
        time.sleep(0.5)
        assert page.evaluate("() => dashboard.tick") == paused
        page.click("#step")
        page.wait_for_function(f"() => dashboard.tick === {paused + 1}", timeout=10_000)
        page.screenshot(path=str(shot), full_page=True)
    assert messages == []
    image = np.asarray(Image.open(shot).convert("RGB"))
    assert image.shape[1] == 1440 and image.std() > 20
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 200
