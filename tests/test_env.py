"""EVGrid-v2: registration, scenario arguments, action checks, determinism, checkers, KPIs."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import evgrid_gym
from evgrid_gym import EVGridEnv, ScenarioError, bundled_scenarios, load_scenario
from evgrid_gym.core.layout import KPI, KPI_NAMES

ENV_ID = "evgrid_gym/EVGrid-v2"
REPO = Path(__file__).resolve().parents[1]


def _zero_action(env) -> np.ndarray:
    return np.zeros(env.action_space.shape, dtype=np.float32)


# --- registration and the scenario argument ---------------------------------------------------


def test_make_after_import_gives_the_env():
    env = gym.make(ENV_ID)
    assert isinstance(env.unwrapped, EVGridEnv)
    assert env.spec is not None and env.spec.id == ENV_ID
    assert env.unwrapped.scenario.config == load_scenario("default")


def test_make_with_module_prefix_in_a_fresh_interpreter():
    code = textwrap.dedent(
        """
        import sys
        import gymnasium as gym
        assert "evgrid_gym" not in sys.modules, "evgrid_gym imported too early"
        env = gym.make("evgrid_gym:evgrid_gym/EVGrid-v2", scenario="electra_station")
        observation, _ = env.reset(seed=0)
        assert env.observation_space.contains(observation)
        print(type(env.unwrapped).__module__, type(env.unwrapped).__name__)
        print(env.unwrapped.scenario.config.name)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert lines[:2] == ["evgrid_gym.envs.evgrid_env", "EVGridEnv"], result.stdout
    assert lines[2] == "electra_station"


def _write_yaml(tmp_path, data) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("form", ["name", "yaml_str", "yaml_path", "dict", "config"])
def test_scenario_argument_forms(form, tiny_scenario, tmp_path, rollout):
    data = tiny_scenario({"name": "tiny_form", "stations[0].grid_capacity_kw": 25.0})
    scenario = {
        "name": "scenario1_normal",
        "yaml_str": str(_write_yaml(tmp_path, data)),
        "yaml_path": _write_yaml(tmp_path, data),
        "dict": data,
        "config": load_scenario(data),
    }[form]
    env = gym.make(ENV_ID, scenario=scenario)
    config = env.unwrapped.scenario.config
    expected = load_scenario("scenario1_normal") if form == "name" else load_scenario(data)
    assert config == expected
    trajectory = rollout(env, seed=0)
    assert len(trajectory) - 1 == expected.episode_ticks


def test_bad_scenario_argument_raises_scenario_error(tiny_scenario):
    with pytest.raises(ScenarioError, match="no_such_scenario"):
        gym.make(ENV_ID, scenario="no_such_scenario")
    with pytest.raises(ScenarioError, match=r"stations\[0\]\.grid_capacity_kw"):
        gym.make(ENV_ID, scenario=tiny_scenario({"stations[0].grid_capacity_kw": 0}))


def test_unknown_render_mode_is_rejected():
    with pytest.raises(ValueError, match=r"render_mode: got 'ansi'.*'human', 'rgb_array'"):
        EVGridEnv("default", render_mode="ansi")


# --- actions --------------------------------------------------------------------------------


@pytest.fixture
def tiny_env(tiny_scenario):
    return EVGridEnv(tiny_scenario())


def test_step_before_reset_raises(tiny_env):
    with pytest.raises(RuntimeError, match="reset"):
        tiny_env.step(_zero_action(tiny_env))


def test_step_after_the_episode_ended_raises(tiny_env):
    tiny_env.reset(seed=0)
    for _ in range(tiny_env.scenario.config.episode_ticks):
        *_, terminated, _, _ = tiny_env.step(_zero_action(tiny_env))
    assert terminated
    with pytest.raises((RuntimeError, ValueError), match="reset"):
        tiny_env.step(_zero_action(tiny_env))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [0, -1])
def test_non_finite_actions_raise(tiny_env, bad, where):
    tiny_env.reset(seed=0)
    action = _zero_action(tiny_env)
    action[where] = bad
    index = where % action.shape[0]
    with pytest.raises(ValueError) as caught:
        tiny_env.step(action)
    message = str(caught.value)
    assert "finite" in message
    assert f"[{index}]" in message, message


def test_rejected_action_changes_nothing(tiny_scenario, rollout, assert_same_trajectory):
    clean, poked = EVGridEnv(tiny_scenario()), EVGridEnv(tiny_scenario())
    clean.reset(seed=3)
    poked.reset(seed=3)
    for _ in range(2):
        bad = _zero_action(poked)
        bad[1] = np.nan
        with pytest.raises(ValueError):
            poked.step(bad)
        action = np.full(clean.action_space.shape, 0.7, dtype=np.float32)
        assert_same_trajectory([clean.step(action)], [poked.step(action)])


@pytest.mark.parametrize("delta", [-1, 1])
def test_wrong_action_length_raises(tiny_env, delta):
    tiny_env.reset(seed=0)
    n = tiny_env.action_space.shape[0]
    with pytest.raises(ValueError) as caught:
        tiny_env.step(np.zeros(n + delta, dtype=np.float32))
    assert f"({n + delta},)" in str(caught.value)
    assert str(tiny_env.action_space.shape) in str(caught.value)


@pytest.mark.parametrize("make", [lambda n: np.zeros((1, n)), lambda n: np.float32(0.0)])
def test_wrong_action_rank_raises(tiny_env, make):
    tiny_env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        tiny_env.step(make(tiny_env.action_space.shape[0]))


def test_advance_is_step_without_its_info(tiny_scenario):
    """advance() moves the env as step() does (same reward, end, observation, station
    books), refuses what step refuses, and a refused action steps nothing."""
    stepped, advanced = EVGridEnv(tiny_scenario()), EVGridEnv(tiny_scenario())
    with pytest.raises(RuntimeError, match="reset"):
        advanced.advance(np.zeros(advanced.action_space.shape, np.float32))
    stepped.reset(seed=4)
    advanced.reset(seed=4)
    rng = np.random.default_rng(4)
    terminated = False
    while not terminated:
        action = rng.uniform(-1, 1, stepped.action_space.shape).astype(np.float32)
        obs, reward, terminated, _, _ = stepped.step(action)
        if rng.random() < 0.1:  # a refused action in between changes nothing
            with pytest.raises(ValueError, match="finite"):
                advanced.advance(np.full(action.shape, np.nan, np.float32))
        assert advanced.advance(action) == (reward, terminated)
        np.testing.assert_array_equal(advanced.outputs.obs, obs)
        np.testing.assert_array_equal(advanced.outputs.station_out, stepped.outputs.station_out)
    with pytest.raises(RuntimeError, match="ended"):
        advanced.advance(action)


def test_out_of_range_actions_are_clipped(tiny_scenario, assert_same_trajectory):
    # README "Action space": actions are fractions in [-1, 1]; entries beyond are clipped, not
    # rejected.
    clipped, wild = EVGridEnv(tiny_scenario()), EVGridEnv(tiny_scenario())
    clipped.reset(seed=1)
    wild.reset(seed=1)
    rng = np.random.default_rng(5)
    for _ in range(clipped.scenario.config.episode_ticks):
        action = rng.uniform(-4.0, 4.0, clipped.action_space.shape)
        assert_same_trajectory([clipped.step(np.clip(action, -1.0, 1.0))], [wild.step(action)])


def test_action_space_is_normalised_float32_box():
    env = EVGridEnv("default")
    space = env.action_space
    scenario = env.scenario
    expected = scenario.n_connectors + scenario.n_stations  # default has bess_control: true
    assert space.shape == (expected,) and space.dtype == np.float32
    assert np.all(space.low == -1.0) and np.all(space.high == 1.0)
    observation = env.observation_space
    assert observation.dtype == np.float32 and len(observation.shape) == 1
    assert np.all(np.isfinite(observation.low)) and np.all(np.isfinite(observation.high))
    assert np.all(observation.low < observation.high)


def test_bess_control_off_drops_the_station_entries(tiny_scenario):
    with_bess = EVGridEnv(tiny_scenario())
    without = EVGridEnv(tiny_scenario({"action": {"bess_control": False}}))
    n_stations = len(tiny_scenario()["stations"])
    assert with_bess.action_space.shape[0] - without.action_space.shape[0] == n_stations


# --- determinism -----------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["default", "electra_station"])
def test_same_seed_same_trajectory(scenario, rollout, assert_same_trajectory):
    first = rollout(EVGridEnv(scenario), seed=11, action_seed=2)
    second = rollout(EVGridEnv(scenario), seed=11, action_seed=2)
    assert_same_trajectory(first, second)


def test_different_seeds_differ(rollout):
    env = EVGridEnv("default")
    zero = rollout(env, seed=0, policy=lambda o, i: _zero_action(env))
    one = rollout(env, seed=1, policy=lambda o, i: _zero_action(env))
    # synthetic wind, prices and households enter the very first observation
    assert not np.array_equal(zero[0][0], one[0][0])
    assert [step[1] for step in zero[1:]] != [step[1] for step in one[1:]]


def test_reset_leaves_nothing_from_earlier_episodes(rollout, assert_same_trajectory):
    used = EVGridEnv("default")
    rollout(used, seed=3, action_seed=9)  # a whole episode
    used.reset(seed=4)  # and a half-finished one with EVs still plugged in
    rng = np.random.default_rng(0)
    for _ in range(40):
        used.step(rng.uniform(-1.0, 1.0, used.action_space.shape).astype(np.float32))
    again = rollout(used, seed=7, action_seed=1)
    fresh = rollout(EVGridEnv("default"), seed=7, action_seed=1)
    assert_same_trajectory(again, fresh)


def test_global_numpy_random_is_never_used(rollout, assert_same_trajectory):
    state = np.random.get_state()
    try:
        np.random.seed(0)
        before = np.random.get_state()
        first = rollout(gym.make(ENV_ID), seed=5, action_seed=3)
        after = np.random.get_state()
        # nothing drew from the global generator: its state did not move
        assert before[0] == after[0] and before[2:] == after[2:]
        np.testing.assert_array_equal(before[1], after[1])
        np.random.seed(12345)
        second = rollout(gym.make(ENV_ID), seed=5, action_seed=3)
    finally:
        np.random.set_state(state)
    assert_same_trajectory(first, second)


_ALLOWED_NP_RANDOM = {"default_rng", "Generator", "SeedSequence", "PCG64", "BitGenerator"}


def _global_random_uses(path: Path) -> list[str]:
    """``np.random.X`` / ``numpy.random.X`` / ``from numpy.random import X`` with X not allowed."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "random"
            and isinstance(node.value.value, ast.Name)
            and node.value.value.id in {"np", "numpy"}
            and node.attr not in _ALLOWED_NP_RANDOM
        ):
            found.append(f"{path}:{node.lineno}: np.random.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "numpy.random":
            found += [
                f"{path}:{node.lineno}: from numpy.random import {alias.name}"
                for alias in node.names
                if alias.name not in _ALLOWED_NP_RANDOM
            ]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                modules.append(node.module or "")
            if "random" in modules:
                found.append(f"{path}:{node.lineno}: the stdlib random module")
    return found


def test_source_never_calls_global_random():
    files = sorted((REPO / "evgrid_gym").rglob("*.py")) + sorted((REPO / "baselines").rglob("*.py"))
    assert len(files) >= 5
    uses = [use for path in files for use in _global_random_uses(path)]
    assert not uses, "global random generators used:\n" + "\n".join(uses)


def test_global_random_detector_finds_offenders(tmp_path):
    # The source check above must be able to fail.
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import numpy as np\nimport random\nfrom numpy.random import rand\n"
        "x = np.random.uniform(0, 1)\nrng = np.random.default_rng(0)\n"
    )
    uses = _global_random_uses(bad)
    assert len(uses) == 3 and not any("default_rng" in use for use in uses)


# --- the Gymnasium and Stable-Baselines3 checkers --------------------------------------------


def _warnings_text(caught) -> str:
    return "\n".join(f"{w.category.__name__}: {w.message}" for w in caught)


@pytest.mark.parametrize("scenario", bundled_scenarios())
def test_gymnasium_check_env_passes_without_warnings(scenario):
    gym.make(ENV_ID, scenario=scenario)  # warm third-party caches (turbine library)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = gym.make(ENV_ID, scenario=scenario)
        gymnasium_check_env(env.unwrapped)
    assert not caught, _warnings_text(caught)


@pytest.mark.parametrize("scenario", bundled_scenarios())
def test_sb3_check_env_passes_without_warnings(scenario):
    gym.make(ENV_ID, scenario=scenario)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = gym.make(ENV_ID, scenario=scenario)
        sb3_check_env(env)
    assert not caught, _warnings_text(caught)


def test_constant_features_still_get_a_non_empty_range(tiny_scenario):
    # no turbines, no households and a free fixed price: three constant observation features
    data = tiny_scenario(
        {"wind": {"turbines": []}, "households": {"count": 0}, "supplier.price_eur_per_kwh": 0.0}
    )
    env = gym.make(ENV_ID, scenario=data)
    space = env.observation_space
    assert np.all(space.low < space.high)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gymnasium_check_env(env.unwrapped)
        sb3_check_env(env)
    assert not caught, _warnings_text(caught)


# --- info, KPIs and reward -------------------------------------------------------------------


def _assert_kpis_in(info: dict, where: str) -> None:
    missing = [name for name in KPI_NAMES if name not in info]
    assert not missing, f"{where}: KPIs missing from info: {missing}"
    for name in KPI_NAMES:
        assert isinstance(info[name], float) and np.isfinite(info[name]), (where, name)


@pytest.mark.parametrize("scenario", ["default", "electra_station"])
def test_info_carries_every_kpi_and_episode_kpis_at_the_end(scenario, rollout):
    env = EVGridEnv(scenario)
    trajectory = rollout(env, seed=2)
    _assert_kpis_in(trajectory[0][1], "reset")
    assert "episode_kpis" not in trajectory[0][1]
    for t, (_, _, terminated, truncated, info) in enumerate(trajectory[1:], start=1):
        _assert_kpis_in(info, f"step {t}")
        assert info["tick"] == t
        assert not truncated
        assert terminated == (t == env.scenario.config.episode_ticks)
        assert ("episode_kpis" in info) == terminated
    episode = trajectory[-1][-1]["episode_kpis"]
    infos = [trajectory[0][1]] + [step[-1] for step in trajectory[1:]]
    # episode totals are the sums of the tick values; peaks are maxima
    for name in ("ev_energy_kwh", "external_energy_kwh", "unmet_energy_kwh", "revenue_eur",
                 "arrivals", "departures", "overload_kwh"):  # fmt: skip
        total = sum(info[name] for info in infos)
        assert episode[f"total_{name}"] == pytest.approx(total, rel=1e-9, abs=1e-9), name
    peak = max(info["import_kw"] for info in infos)
    assert episode["peak_import_kw"] == pytest.approx(peak, rel=1e-12)
    assert episode["energy_delivered_kwh"] == episode["total_ev_energy_kwh"]
    assert 0.0 <= episode["renewable_share"] <= 1.0
    # every EV that arrived and found a connector has departed by the end
    assert (
        episode["total_departures"]
        == episode["total_arrivals"] - episode["total_rejected_arrivals"]
    )


@pytest.mark.parametrize("scenario", ["default", "scenario2_high_demand", "electra_station"])
def test_episode_reward_is_weighted_sum_of_kpi_totals(scenario, rollout):
    env = gym.make(ENV_ID, scenario=scenario)
    trajectory = rollout(env, seed=4, action_seed=8)
    weights = env.unwrapped.scenario.reward_weights
    rewards = [step[1] for step in trajectory[1:]]
    for _, reward, _, _, info in trajectory[1:]:
        expected = sum(weights[KPI[name]] * info[name] for name in KPI_NAMES)
        assert reward == pytest.approx(expected, rel=1e-9, abs=1e-9)
    totals = env.unwrapped.kpi_total
    assert sum(rewards) == pytest.approx(float(weights @ totals), rel=1e-9, abs=1e-9)
    assert any(r != 0.0 for r in rewards)


def _profit(info):
    return (
        info["revenue_eur"]
        - info["energy_cost_eur"]
        + info["export_revenue_eur"]
        - info["unmet_penalty_eur"]
        - info["overload_penalty_eur"]
        + info["storage_value_eur"]
        - info["degradation_cost_eur"]
    )


REWARDS = {
    "profit": ({"name": "profit"}, _profit),
    "cost": (
        {"name": "cost"},
        lambda i: _profit(i) - i["revenue_eur"],
    ),
    "satisfaction": (
        {"name": "satisfaction"},
        lambda i: -i["unmet_energy_kwh"] - i["overload_kwh"],
    ),
    "custom": (
        {"name": "custom", "weights": {"ev_energy_kwh": 2.0, "external_energy_kwh": -0.5}},
        lambda i: 2.0 * i["ev_energy_kwh"] - 0.5 * i["external_energy_kwh"],
    ),
}


@pytest.mark.parametrize("name", list(REWARDS))
@pytest.mark.parametrize("limits", ["hard", "soft"])
def test_reward_presets(name, limits, tiny_scenario, rollout):
    reward_config, formula = REWARDS[name]
    env = EVGridEnv(tiny_scenario({"reward": reward_config, "grid.limits": limits}))
    trajectory = rollout(env, seed=0, action_seed=4)
    total = 0.0
    for _, reward, _, _, info in trajectory[1:]:
        assert reward == pytest.approx(formula(info), rel=1e-9, abs=1e-12)
        total += reward
    weights = env.scenario.reward_weights
    assert total == pytest.approx(float(weights @ env.kpi_total), rel=1e-9, abs=1e-12)


def test_kpi_total_is_read_only():
    env = EVGridEnv("default")
    env.reset(seed=0)
    with pytest.raises(ValueError):
        env.kpi_total[0] = 1.0


def test_package_exports():
    for name in ("EVGridEnv", "Scenario", "ScenarioConfig", "ScenarioError", "load_scenario"):
        assert hasattr(evgrid_gym, name), name
    assert ENV_ID in gym.registry


def test_readme_observation_table_is_the_spec():
    """The README's observation table is the one ``core.observation.BLOCKS`` generates."""
    from pathlib import Path

    from evgrid_gym.observation import markdown_table

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert markdown_table() in readme


def test_observation_blocks_follow_the_spec(tiny_scenario):
    """Each named view has the length its block's size gives, in order, without gaps (the
    network's blocks are empty: no grid.network)."""
    from evgrid_gym.core.observation import BLOCKS, block_size

    env = EVGridEnv(tiny_scenario({"reservation": {"enabled": True, "observation_hours": 3},
                                   "faults": {"charger_probability": 0.1}}))  # fmt: skip
    sc = env.scenario
    observation, _ = env.reset(seed=0)
    view = sc.unpack(observation)
    dims = {"C": sc.n_connectors, "S": sc.n_stations, "K": sc.n_chargers, "H": 3,
            "F": sc.config.observation.forecast_ticks}  # fmt: skip
    lengths = [np.size(getattr(view, block.name)) for block in BLOCKS]
    assert lengths == [
        0 if block.when == "network" else block_size(block.size, dims) for block in BLOCKS
    ]
    assert sum(lengths) == observation.shape[0]
    assert view.reservations.shape == (sc.n_stations, 3)
