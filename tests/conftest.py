"""Shared fixtures: a tiny valid scenario, seeded episode rollouts, trajectory comparison."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

# "human" rendering draws into a matplotlib figure: never open a window during the tests
os.environ.setdefault("MPLBACKEND", "Agg")

# A small but complete scenario: one station (2 chargers x 2 connectors, one of them V2G) with
# a BESS, one turbine, two households, a fixed price and three explicit EV sessions.
TINY_SCENARIO: dict[str, Any] = {
    "name": "tiny",
    "dt_h": 0.25,
    "episode_ticks": 8,
    "grid": {"feeder_limit_kw": 100.0},
    "supplier": {"price_profile": "fixed", "price_eur_per_kwh": 0.3},
    "wind": {"turbines": [{"turbine_type": "E-53/800", "hub_height_m": 73.0, "count": 1}]},
    "households": {"count": 2},
    "stations": [
        {
            "id": "a",
            "grid_capacity_kw": 30.0,
            "bess": {"capacity_kwh": 20.0, "power_kw": 10.0},
            "chargers": [
                {"max_power_kw": 11.0, "connectors": 2, "count": 1, "v2g": True},
                {"max_power_kw": 22.0, "connectors": 2, "count": 1},
            ],
        }
    ],
    "evs": {
        "source": "sessions",
        "sessions": [
            {
                "station": "a",
                "arrival_tick": 0,
                "departure_tick": 6,
                "battery_kwh": 40.0,
                "soc_arrival": 0.2,
                "max_v2g_kw": 7.0,
            },
            {"station": "a", "arrival_tick": 2, "departure_tick": 8, "battery_kwh": 60.0,
             "soc_arrival": 0.5, "soc_target": 0.9},
            {"station": "a", "arrival_tick": 3, "departure_tick": 5, "battery_kwh": 50.0,
             "soc_arrival": 0.85},
        ],
    },
}  # fmt: skip

_PATH_TOKEN = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]")


def set_field(data: dict, path: str, value: Any) -> None:
    """Sets ``data`` at a field path such as ``stations[0].bess.capacity_kwh`` (in place).

    Missing mappings on the way are created (``reward.name`` works without a ``reward`` key).
    """
    keys: list[str | int] = [
        name if name else int(index) for name, index in _PATH_TOKEN.findall(path)
    ]
    target: Any = data
    for key in keys[:-1]:
        target = target.setdefault(key, {}) if isinstance(key, str) else target[key]
    target[keys[-1]] = value


@pytest.fixture
def tiny_scenario() -> Callable[..., dict]:
    """Factory: a fresh copy of the tiny scenario dict, with ``{field path: value}`` overrides."""

    def make(overrides: dict[str, Any] | None = None) -> dict:
        data = copy.deepcopy(TINY_SCENARIO)
        for path, value in (overrides or {}).items():
            set_field(data, path, value)
        return data

    return make


def _rollout(env, seed: int | None, policy=None, action_seed: int = 0, max_steps: int = 10_000):
    """Runs one episode; returns ``[(obs, info)] + [(obs, reward, terminated, truncated, info)]``.

    ``policy(observation, info) -> action``; by default uniform actions in [-1, 1] from a
    generator seeded with ``action_seed``.
    """
    if policy is None:
        rng = np.random.default_rng(action_seed)
        shape = env.action_space.shape

        def policy(observation, info):
            return rng.uniform(-1.0, 1.0, shape).astype(np.float32)

    observation, info = env.reset(seed=seed)
    trajectory: list[tuple] = [(observation, info)]
    for _ in range(max_steps):
        observation, reward, terminated, truncated, info = env.step(policy(observation, info))
        trajectory.append((observation, reward, terminated, truncated, info))
        if terminated or truncated:
            return trajectory
    raise AssertionError(f"episode did not end within {max_steps} steps")


@pytest.fixture
def rollout():
    """``rollout(env, seed, policy=None, action_seed=0)``: one whole episode (see _rollout)."""
    return _rollout


def _assert_equal_values(a: Any, b: Any, where: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{where}: keys differ"
        for key in a:
            _assert_equal_values(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where, strict=True)
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}"


def _assert_same_trajectory(first: list[tuple], second: list[tuple]) -> None:
    """Bit-identical trajectories: observations, rewards, flags and every info entry."""
    assert len(first) == len(second), f"lengths differ: {len(first)} != {len(second)}"
    for t, (a, b) in enumerate(zip(first, second, strict=True)):
        assert len(a) == len(b)
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_equal_values(x, y, f"step {t} item {i}")


@pytest.fixture
def assert_same_trajectory():
    return _assert_same_trajectory


@pytest.fixture
def tight_network() -> dict:
    """``default_network`` with cables at 15 % of their ampacity (40 A) and a 0.99 pu floor
    under a 1.0 pu upstream grid: the stations' charging reaches both limits."""
    from evgrid_gym.config import load_scenario

    config = load_scenario("default_network").model_dump(mode="json")
    network = config["grid"]["network"]
    network["voltage_min_pu"] = 0.99
    network["description"]["slack_voltage_pu"] = 1.0
    for line in network["description"]["lines"]:
        line["max_current_a"] *= 0.15
    return config
