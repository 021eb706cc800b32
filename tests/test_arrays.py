"""``evgrid_gym.arrays.readonly``: the read-only arrays the scenario and the envs hand out."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from evgrid_gym import EVGridEnv, Scenario, load_scenario
from evgrid_gym.arrays import readonly


def test_view_follows_its_owner_and_cannot_write():
    owner = np.zeros(3)
    view = readonly(owner)
    owner[1] = 2.0
    assert view[1] == 2.0
    with pytest.raises(ValueError, match="read-only"):
        view[0] = 1.0
    assert owner.flags.writeable


@pytest.mark.parametrize("owner", [np.arange(12.0).reshape(3, 4), np.arange(12.0).reshape(3, 4).T])
def test_contiguous_copies_only_what_is_not_contiguous(owner):
    view = readonly(owner, contiguous=True)
    np.testing.assert_array_equal(view, owner)
    assert view.flags.c_contiguous and not view.flags.writeable
    owner[0, 0] = -1.0
    assert (view[0, 0] == -1.0) == owner.flags.c_contiguous  # a copy does not follow


def test_env_and_scenario_arrays_are_read_only():
    env = EVGridEnv("default")
    env.reset(seed=0)
    sc = env.scenario
    for array in (sc.cfg, sc.charger_f, sc.station_f, sc.reward_weights, sc.observation_low):
        assert not array.flags.writeable and array.flags.c_contiguous
    totals = env.kpi_total
    assert not totals.flags.writeable
    env.step(np.ones(env.action_space.shape, dtype=np.float32))
    np.testing.assert_array_equal(totals, env.kpi_total)  # follows the env
    assert totals.any()


def test_network_arrays_are_read_only():
    network = Scenario(load_scenario("default_network")).network
    arrays = {f.name: getattr(network, f.name) for f in dataclasses.fields(network)}
    arrays = {name: a for name, a in arrays.items() if isinstance(a, np.ndarray)}
    assert len(arrays) == 8
    for name, array in arrays.items():
        assert not array.flags.writeable, name
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0
