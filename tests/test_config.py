"""Scenario validation: every bad input is a ScenarioError naming the field, value and rule."""

from __future__ import annotations

import pytest
import yaml
from windpowerlib import get_turbine_types

from evgrid_gym import ScenarioConfig, ScenarioError, bundled_scenarios, load_scenario


def _error_line(data, path: str) -> str:
    """Loads ``data``, expects a ScenarioError and returns its line about ``path``."""
    with pytest.raises(ScenarioError) as caught:
        load_scenario(data)
    message = str(caught.value)
    lines = [line.strip() for line in message.splitlines()]
    matching = [line for line in lines if line.startswith(f"{path}:")]
    assert matching, f"no line about {path!r} in:\n{message}"
    return matching[0]


def _assert_rejected(data, path: str, value: str, allowed: str) -> None:
    line = _error_line(data, path)
    assert value in line, f"bad value {value!r} not named in: {line}"
    assert allowed in line, f"what is allowed ({allowed!r}) not said in: {line}"


def test_tiny_scenario_is_valid(tiny_scenario):
    # The base of every negative test below must itself be valid.
    config = load_scenario(tiny_scenario())
    assert isinstance(config, ScenarioConfig)
    assert config.stations[0].grid_capacity_kw == 30.0
    assert len(config.evs.sessions) == 3


def test_error_is_a_value_error():
    assert issubclass(ScenarioError, ValueError)


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("colour", "stations"),
        ("stations[0].grid_capacty_kw", "grid_capacity_kw"),
        ("stations[0].bess.size_kwh", "capacity_kwh"),
        ("stations[0].chargers[1].ports", "connectors"),
        ("wind.turbines[0].rotor_m", "hub_height_m"),
        ("evs.sessions[2].soc_goal", "soc_target"),
    ],
)
def test_unknown_keys_are_rejected(tiny_scenario, path, allowed):
    data = tiny_scenario({path: 1.0})
    # The bad key is the last part of the path; the line lists the keys allowed there.
    _assert_rejected(data, path, "unknown key", allowed)


@pytest.mark.parametrize(
    ("path", "value", "shown", "allowed"),
    [
        ("grid.feeder_limit_kw", "lots", "'lots'", "valid number"),
        ("stations", "north", "'north'", "valid list"),
        ("grid", 5, "got 5", "valid dictionary"),
        ("stations[0].chargers[0].connectors", 2.5, "2.5", "valid integer"),
        ("stations[0].chargers[0].count", True, "True", "not a boolean"),
        ("stations[0].grid_capacity_kw", True, "True", "not a boolean"),
        ("episode_ticks", "many", "'many'", "valid integer"),
        ("grid.limits", "medium", "'medium'", "'hard' or 'soft'"),
        ("stations[0].chargers[0].kind", "XC", "'XC'", "'AC' or 'DC'"),
        ("reward.name", "fun", "'fun'", "'profit'"),
        ("stations[0].id", 7, "7", "valid string"),
    ],
)
def test_wrong_types_are_rejected(tiny_scenario, path, value, shown, allowed):
    _assert_rejected(tiny_scenario({path: value}), path, shown, allowed)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize(
    "path",
    ["stations[0].grid_capacity_kw", "supplier.price_eur_per_kwh", "stations[0].x_km", "dt_h"],
)
def test_non_finite_numbers_are_rejected(tiny_scenario, path, value):
    _assert_rejected(tiny_scenario({path: value}), path, repr(value), "finite number")


@pytest.mark.parametrize("value", [0, 0.0, -5, -0.001])
@pytest.mark.parametrize(
    "path",
    [
        "grid.feeder_limit_kw",
        "stations[0].grid_capacity_kw",
        "stations[0].chargers[1].max_power_kw",
        "stations[0].bess.capacity_kwh",
        "stations[0].bess.power_kw",
        "evs.sessions[0].battery_kwh",
    ],
)
def test_zero_or_negative_capacities_are_rejected(tiny_scenario, path, value):
    _assert_rejected(tiny_scenario({path: value}), path, f"got {value!r}", "greater than 0")


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        (0, "greater than 0"),
        (0.0, "greater than 0"),
        (-0.2, "greater than 0"),
        (1.0001, "less than or equal to 1"),
        (2, "less than or equal to 1"),
    ],
)
def test_transition_soc_outside_unit_interval_is_rejected(tiny_scenario, value, allowed):
    data = tiny_scenario({"battery": {"transition_soc": value}})
    _assert_rejected(data, "battery.transition_soc", f"got {value!r}", allowed)


@pytest.mark.parametrize("value", [1e-6, 0.5, 1.0])
def test_transition_soc_inside_unit_interval_is_accepted(tiny_scenario, value):
    config = load_scenario(tiny_scenario({"battery": {"transition_soc": value}}))
    assert config.battery.transition_soc == value


@pytest.mark.parametrize(("arrival", "departure"), [(5, 3), (4, 4), (7, 1)])
def test_departure_not_after_arrival_is_rejected(tiny_scenario, arrival, departure):
    data = tiny_scenario(
        {"evs.sessions[1].arrival_tick": arrival, "evs.sessions[1].departure_tick": departure}
    )
    line = _error_line(data, "evs.sessions[1]")
    assert f"departure_tick ({departure})" in line
    assert f"arrival_tick ({arrival})" in line
    assert "must be after" in line


def test_departure_after_episode_end_is_rejected(tiny_scenario):
    data = tiny_scenario({"evs.sessions[0].departure_tick": 9})  # episode_ticks is 8
    with pytest.raises(ScenarioError) as caught:
        load_scenario(data)
    message = str(caught.value)
    assert "evs.sessions[0].departure_tick" in message
    assert "got 9" in message and "episode_ticks (8)" in message


@pytest.mark.parametrize("path", ["stations", "stations[0].chargers", "evs.fleet"])
def test_empty_lists_are_rejected(tiny_scenario, path):
    _assert_rejected(tiny_scenario({path: []}), path, "got []", "at least 1 item")


def test_sessions_source_needs_sessions(tiny_scenario):
    line = _error_line(tiny_scenario({"evs.sessions": []}), "evs")
    assert "sessions" in line and "non-empty" in line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: [unclosed\ngrid: {feeder_limit_kw: 1}\n", "malformed YAML"),
        ("name: tiny\n  grid: : 1\n", "malformed YAML"),
        ("- name\n- grid\n", "must hold a mapping"),
        ("", "must hold a mapping"),
    ],
)
def test_malformed_yaml_is_rejected(tmp_path, text, expected):
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert str(path) in message
    assert expected in message
    if expected == "malformed YAML":
        assert "line " in message  # where the parser stopped


def test_yaml_file_errors_name_the_field(tmp_path, tiny_scenario):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tiny_scenario({"stations[0].grid_capacity_kw": -5})))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(path))
    message = str(caught.value)
    assert str(path) in message
    assert "stations[0].grid_capacity_kw: got -5" in message
    assert "greater than 0" in message


def _turbine_types_with_power_curve() -> set[str]:
    table = get_turbine_types(print_out=False)
    return set(table.loc[table["has_power_curve"], "turbine_type"])


@pytest.mark.parametrize("name", ["Vestas-XYZ", "E-53/801", "", "e-53/800"])
def test_unknown_turbine_type_is_rejected(tiny_scenario, name):
    known = _turbine_types_with_power_curve()
    assert name not in known
    path = "wind.turbines[0].turbine_type"
    line = _error_line(tiny_scenario({path: name}), path)
    assert repr(name) in line
    assert "get_turbine_types" in line
    assert any(real in line for real in known), f"no allowed type suggested: {line}"


def test_known_turbine_type_is_accepted(tiny_scenario):
    name = sorted(_turbine_types_with_power_curve())[0]
    config = load_scenario(tiny_scenario({"wind.turbines[0].turbine_type": name}))
    assert config.wind.turbines[0].turbine_type == name


@pytest.mark.parametrize("name", ["no_such_scenario", "Default", "default.yml", "defaults"])
def test_unknown_bundled_name_is_rejected(name):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(name)
    message = str(caught.value)
    assert f"got {name!r}" in message
    for bundled in bundled_scenarios():
        assert bundled in message, f"bundled name {bundled!r} not listed: {message}"


def test_missing_yaml_path_is_rejected(tmp_path):
    path = tmp_path / "absent.yaml"
    with pytest.raises(ScenarioError, match="no such YAML file") as caught:
        load_scenario(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("scenario", [5, None, ["default"], 2.5])
def test_unsupported_scenario_objects_are_rejected(scenario):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(scenario)
    message = str(caught.value)
    assert type(scenario).__name__ in message
    assert "bundled name" in message and "YAML path" in message and "dict" in message


def test_every_bad_field_is_reported(tiny_scenario):
    data = tiny_scenario(
        {
            "grid.feeder_limit_kw": 0,
            "stations[0].bess.power_kw": -1,
            "battery": {"transition_soc": 3},
            "colour": "blue",
        }
    )
    for path in ("grid.feeder_limit_kw", "stations[0].bess.power_kw", "battery.transition_soc"):
        _error_line(data, path)
    _error_line(data, "colour")


@pytest.mark.parametrize(
    ("overrides", "path", "fragments"),
    [
        ({"dt_h": 0.7}, "<root>", ["dt_h (0.7)", "whole ticks"]),
        ({"evs.sessions[0].station": "zz"}, "<root>", ["'zz'", "['a']"]),
        (
            {"stations[0].bess.soc_min": 0.9, "stations[0].bess.soc_max": 0.2},
            "stations[0].bess",
            ["soc_min (0.9)", "soc_max (0.2)"],
        ),
        ({"stations[0].bess.initial_soc": 0.95}, "stations[0].bess", ["initial_soc (0.95)"]),
        ({"evs.soc_arrival": [0.6, 0.2]}, "evs", ["(0.6, 0.2)", "low <= high"]),
        ({"reward.name": "custom"}, "reward", ["'weights'", "custom"]),
    ],
)
def test_inconsistent_fields_are_rejected(tiny_scenario, overrides, path, fragments):
    line = _error_line(tiny_scenario(overrides), path)
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in: {line}"


def test_duplicate_station_ids_are_rejected(tiny_scenario):
    data = tiny_scenario()
    data["stations"].append(dict(data["stations"][0]))
    line = _error_line(data, "<root>")
    assert "unique" in line and "['a']" in line


def test_custom_reward_weights_need_known_terms(tiny_scenario):
    data = tiny_scenario({"reward": {"name": "custom", "weights": {"happiness": 1.0}}})
    with pytest.raises(ScenarioError) as caught:
        load_scenario(data)
    message = str(caught.value)
    assert "reward.weights" in message and "'happiness'" in message
    assert "'revenue_eur'" in message


def test_config_is_immutable(tiny_scenario):
    config = load_scenario(tiny_scenario())
    with pytest.raises(ValueError):
        config.stations[0].grid_capacity_kw = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("name", bundled_scenarios())
def test_bundled_config_round_trips_through_a_dict(name):
    config = load_scenario(name)
    assert load_scenario(config.model_dump()) == config
    assert load_scenario(config) is config
    assert config.name == name  # each bundled file is named after its scenario


@pytest.mark.parametrize("profile", ["fixed", "synthetic_day_ahead"])
def test_negative_supplier_price_is_rejected(tiny_scenario, profile):
    data = tiny_scenario({"supplier": {"price_profile": profile, "price_eur_per_kwh": -0.1}})
    _assert_rejected(data, "supplier.price_eur_per_kwh", "got -0.1", "greater than or equal to 0")


# --- battery degradation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "allowed"),
    [
        ("degradation.ev.price_eur_per_kwh", -89.6, "greater than or equal to 0"),
        ("degradation.bess.price_eur_per_kwh", -1, "greater than or equal to 0"),
        ("degradation.ev.cycle_life", 0, "greater than 0"),
        ("degradation.bess.cycle_life", -3500, "greater than 0"),
        ("degradation.ev.usable_fraction", 0.0, "greater than 0"),
        ("degradation.ev.usable_fraction", 1.5, "less than or equal to 1"),
        ("degradation.ev.cycle_life", float("nan"), "finite number"),
        ("degradation.bess.cycle_life", True, "not a boolean"),
        ("degradation.enabled", "sometimes", "valid boolean"),
    ],
)
def test_bad_degradation_is_rejected(tiny_scenario, path, value, allowed):
    _assert_rejected(tiny_scenario({path: value}), path, f"got {value!r}", allowed)


def test_bess_usable_fraction_is_its_soc_window_not_a_key(tiny_scenario):
    data = tiny_scenario({"degradation.bess.usable_fraction": 0.8})
    _assert_rejected(data, "degradation.bess.usable_fraction", "unknown key", "cycle_life")


def test_degradation_costs_per_kwh_by_hand(tiny_scenario):
    """``degradation: on`` with the sourced defaults; the tiny BESS's soc window is 0.1-0.9."""
    from evgrid_gym.config import USD_PER_EUR_2024
    from evgrid_gym.core import layout as L
    from evgrid_gym.scenario import Scenario

    off = Scenario(load_scenario(tiny_scenario()))
    assert off.cfg[L.CFG_V2G_DEGRADATION] == 0.0 and off.station_f[L.ST_BESS_DEGRADATION, 0] == 0.0
    config = load_scenario(tiny_scenario({"degradation": True}))
    assert config.degradation.enabled
    # BNEF 2024: BEV packs USD 97/kWh, all packs USD 115/kWh, at the ECB's 2024 average rate
    wear = config.degradation
    assert wear.ev.price_eur_per_kwh == pytest.approx(97 / USD_PER_EUR_2024, abs=0.05)
    assert wear.bess.price_eur_per_kwh == pytest.approx(115 / USD_PER_EUR_2024, abs=0.05)
    sc = Scenario(config)
    # a V2G kWh: two halves of a cycle of 0.9 of the pack, 4600 cycles at 89.6 EUR/kWh
    assert sc.cfg[L.CFG_V2G_DEGRADATION] == pytest.approx(89.6 / (4600 * 0.9), rel=1e-12)
    # a BESS kWh in or out: half a cycle of its 0.8 window, 3500 cycles at 106.2 EUR/kWh
    expected = 106.2 / (3500 * 2 * 0.8)
    assert sc.station_f[L.ST_BESS_DEGRADATION, 0] == pytest.approx(expected, rel=1e-12)
