"""``grid.network``: loading and validation of network descriptions and the placement."""

import copy
import json

import pytest

from evgrid_gym.config import ScenarioError, load_scenario
from evgrid_gym.core import layout as L
from evgrid_gym.grid import BUNDLED_NETWORKS, network_arrays

# mv -> busbar (transformer) -> a -> b, and busbar -> c
NETWORK = {
    "name": "small",
    "nominal_voltage_kv": 0.4,
    "buses": ["mv", "busbar", "a", "b", "c"],
    "transformer": {"name": "t1", "hv_bus": "mv", "lv_bus": "busbar", "rated_kva": 250.0,
                    "vk_percent": 4.0, "vkr_percent": 1.2},
    "lines": [
        {"name": "l1", "from_bus": "busbar", "to_bus": "a", "r_ohm": 0.01, "x_ohm": 0.004,
         "max_current_a": 270.0},
        {"name": "l2", "from_bus": "b", "to_bus": "a", "r_ohm": 0.01, "x_ohm": 0.004,
         "max_current_a": 270.0},
        {"name": "l3", "from_bus": "busbar", "to_bus": "c", "r_ohm": 0.02, "x_ohm": 0.008,
         "max_current_a": 200.0},
    ],
}  # fmt: skip


@pytest.fixture
def scenario(tiny_scenario):
    """The tiny scenario (station 'a', one turbine entry, 2 households) on NETWORK."""

    def make(network_overrides=None, description=None):
        data = tiny_scenario()
        data["grid"]["network"] = {
            "description": copy.deepcopy(NETWORK) if description is None else description,
            "households": [{"bus": "b", "count": 2}],
            "turbines": ["mv"],
            "stations": {"a": "c"},
        } | (network_overrides or {})
        return data

    return make


def _error(data) -> str:
    with pytest.raises(ScenarioError) as err:
        load_scenario(data)
    return str(err.value)


def _with_line(**fields):
    description = copy.deepcopy(NETWORK)
    description["lines"][1] |= fields
    return description


def test_valid_network_and_placement(scenario):
    config = load_scenario(scenario())
    arrays = network_arrays(config.grid.network, ["a"])
    assert arrays.bus_names == ("mv", "busbar", "a", "c", "b")
    assert list(arrays.bus_parent) == [-1, 0, 1, 1, 2]
    assert arrays.branch_names == ("", "t1", "l1", "l3", "l2")
    assert list(arrays.station_bus) == [3]  # station a on bus c
    assert list(arrays.bus_f[L.BUS_HOUSEHOLD_SHARE]) == [0, 0, 0, 0, 1]  # households on b
    assert list(arrays.bus_f[L.BUS_WIND_SHARE]) == [1, 0, 0, 0, 0]  # the turbine on mv
    assert not arrays.bus_f[L.BUS_PV_SHARE].any()  # no PV


def test_no_network_keeps_the_feeder_limit(tiny_scenario):
    assert load_scenario(tiny_scenario()).grid.network is None


def test_bundled_network_loads(scenario):
    assert BUNDLED_NETWORKS == ("simbench_lv_semiurb4",)
    config = load_scenario(
        scenario(
            {"households": [{"bus": "LV4.101 Bus 3", "count": 2}], "turbines": ["MV1.101 Bus 52"],
             "stations": {"a": "LV4.101 Bus 10"}},
            description="simbench_lv_semiurb4",
        )
    )  # fmt: skip
    assert len(config.grid.network.description.buses) == 44


def test_description_from_json_and_yaml_files(scenario, tmp_path):
    (tmp_path / "net.json").write_text(json.dumps(NETWORK))
    (tmp_path / "net.yaml").write_text(json.dumps(NETWORK))  # JSON is YAML
    for name in ("net.json", "net.yaml"):
        config = load_scenario(scenario(description=str(tmp_path / name)))
        assert config.grid.network.description.name == "small"


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        (_with_line(r_ohm=0.0),
         "grid.network.description.lines[1].r_ohm: got 0.0; input should be greater than 0"),
        (_with_line(r_ohm=-0.1), "lines[1].r_ohm: got -0.1; input should be greater than 0"),
        (_with_line(x_ohm=-0.1), "lines[1].x_ohm: got -0.1; input should be greater than or"),
        (_with_line(max_current_a=0), "lines[1].max_current_a: got 0; input should be greater"),
        (_with_line(max_current_a=True), "lines[1].max_current_a: got True; input should be a"),
        (_with_line(ampacity=3.0), "lines[1].ampacity: unknown key; allowed keys here:"),
        (_with_line(to_bus="zz"), "lines[1] ('l2').to_bus: got 'zz'; not one of the network's"),
        (_with_line(from_bus="c"), "lines[1] ('l2'): closes a loop through buses"),
        (_with_line(from_bus="a", to_bus="a"), "lines[1] ('l2'): from_bus and to_bus are both"),
        (_with_line(name="l1"), "transformer and lines: names must be unique; repeated: ['l1']"),
        (_with_line(name="t1"), "transformer and lines: names must be unique; repeated: ['t1']"),
        (_with_line(to_bus="mv"), "lines[1] ('l2'): ends on the transformer's hv_bus 'mv'"),
    ],
)  # fmt: skip
def test_bad_lines(scenario, description, expected):
    assert expected in _error(scenario(description=description))


def test_bus_not_connected(scenario):
    description = copy.deepcopy(NETWORK)
    description["buses"].append("island")
    message = _error(scenario(description=description))
    assert "grid.network.description: buses: ['island'] not connected to the transformer" in message


def test_parallel_lines_are_a_loop(scenario):
    description = copy.deepcopy(NETWORK)
    description["lines"].append(description["lines"][2] | {"name": "l3bis"})
    assert "lines[3] ('l3bis'): closes a loop through buses" in _error(
        scenario(description=description)
    )


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("rated_kva", -250.0, "transformer.rated_kva: got -250.0; input should be greater than"),
        ("vk_percent", 0.0, "transformer.vk_percent: got 0.0; input should be greater than 0"),
        ("vkr_percent", 5.0, "transformer ('t1').vkr_percent: got 5.0; must be <= vk_percent"),
        ("hv_bus", "nowhere", "transformer ('t1').hv_bus: got 'nowhere'; not one of"),
        ("lv_bus", "mv", "transformer ('t1'): hv_bus and lv_bus are both 'mv'"),
    ],
)
def test_bad_transformer(scenario, field, value, expected):
    description = copy.deepcopy(NETWORK)
    description["transformer"][field] = value
    assert expected in _error(scenario(description=description))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"stations": {"a": "nowhere"}}, "grid.network: stations.a: got 'nowhere'; not a bus of"),
        ({"turbines": ["x"]}, "grid.network: turbines[0]: got 'x'; not a bus of network"),
        ({"households": [{"bus": "q", "count": 2}]}, "households[0].bus: got 'q'; not a bus"),
        ({"stations": {}}, "grid.network.stations: no bus for station(s) ['a']"),
        ({"stations": {"a": "c", "zz": "c"}}, "grid.network.stations: ['zz'] not station ids"),
        ({"turbines": []}, "grid.network.turbines: got 0 bus(es); wind.turbines has 1 entries"),
        ({"households": [{"bus": "b", "count": 3}]},
         "grid.network.households: got 3 households placed; households.count is 2"),
        ({"household_power_factor": 0.0},
         "grid.network.household_power_factor: got 0.0; input should be greater than 0"),
        ({"station_power_factor": 1.2},
         "grid.network.station_power_factor: got 1.2; input should be less than or equal to 1"),
        ({"voltage_min_pu": 1.0}, "grid.network.voltage_min_pu: got 1.0; input should be less"),
        ({"slack": 1.0}, "grid.network.slack: unknown key; allowed keys here: ['description', "),
    ],
)  # fmt: skip
def test_bad_placement(scenario, overrides, expected):
    assert expected in _error(scenario(overrides))


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("no_such_net", "grid.network.description: got 'no_such_net'; must be a bundled network"),
        ("caltech", "grid.network.description: got 'caltech'; must be a bundled network"),
        (42, "grid.network.description: got 42; input should be a valid dictionary"),
    ],
)
def test_bad_description_reference(scenario, description, expected):
    assert expected in _error(scenario(description=description))


def test_malformed_file(scenario, tmp_path):
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\x8b\x00\xff")
    assert f"grid.network.description: {path}: malformed .yaml file" in _error(
        scenario(description=str(path))
    )
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    assert "malformed .json file" in _error(scenario(description=str(path)))
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    assert "must hold a mapping of network fields, got list" in _error(
        scenario(description=str(path))
    )
