"""The service's time and inputs: decision instants, the manual clock, the exogenous inputs
of a day, and the engine's refusals."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

pytest.importorskip("fastapi")

from evgrid_gym.config import load_scenario  # noqa: E402
from evgrid_gym.service.clock import ManualClock, decision_times  # noqa: E402
from evgrid_gym.service.engine import ScenarioInputs, build_engines  # noqa: E402
from evgrid_gym.service.topology import service_day  # noqa: E402

UTC = datetime.timezone.utc


def _at(hour, minute, second=0, microsecond=0, tz=UTC):
    return datetime.datetime(2019, 7, 15, hour, minute, second, microsecond, tzinfo=tz)


def test_decision_times_are_multiples_of_the_tick_after_and_up_to():
    assert decision_times(_at(0, 0), _at(0, 31), 900.0) == [_at(0, 15), _at(0, 30)]
    assert decision_times(_at(0, 15), _at(0, 30), 900.0) == [_at(0, 30)]  # (after, until]
    assert decision_times(_at(0, 15), _at(0, 29, 59, 999_999), 900.0) == []
    assert decision_times(_at(0, 0), _at(0, 0, 1), 0.25) == [
        _at(0, 0, 0, 250_000), _at(0, 0, 0, 500_000), _at(0, 0, 0, 750_000), _at(0, 0, 1)
    ]  # fmt: skip
    paris = datetime.timezone(datetime.timedelta(hours=2))  # same instants in any zone
    assert decision_times(_at(2, 0, tz=paris), _at(2, 20, tz=paris), 900.0) == [_at(0, 15)]


def test_the_manual_clock_only_moves_forward():
    clock = ManualClock(_at(1, 0))
    clock.advance(datetime.timedelta(minutes=5))
    assert clock.now() == _at(1, 5)
    with pytest.raises(ValueError, match="before"):
        clock.set(_at(1, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime.datetime(2019, 7, 15, 2, 0))


def test_the_inputs_of_a_day_are_the_same_every_time():
    config = service_day(load_scenario("electra_station"))
    first, again = ScenarioInputs(config), ScenarioInputs(config)
    day = datetime.date(2019, 7, 15)
    exo = first(day)
    assert exo.shape[1] == 96 + config.observation.forecast_ticks + 1
    np.testing.assert_array_equal(exo, again(day))  # a restart sees the same day
    assert not np.array_equal(exo, first(day + datetime.timedelta(days=1)))
    assert not exo.flags.writeable


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"policy": "optimal"}, "policy: got 'optimal'"),
        ({"policy": "agent"}, "agent: give a model path"),
        ({"policy": "edf", "agent": "model.zip"}, "agent: give a model path"),
        ({"policy": "edf", "tick_s": 901.0}, "tick_s: got 901"),
        ({"policy": "edf", "tick_s": 0.0}, "tick_s: got 0"),
    ],
)
def test_build_engines_refuses_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        build_engines(load_scenario("electra_station"), **options)


def test_every_station_of_a_scenario_gets_an_engine():
    config = load_scenario("default")  # two stations of 4 chargers x 2 connectors
    engines = build_engines(config, "edf")
    assert list(engines) == [s.id for s in config.stations]
    topologies = [e.topology for e in engines.values()]
    assert [t.station_id for t in topologies] == [s.id for s in config.stations]
    assert all(len(t.connectors()) == 8 for t in topologies)
