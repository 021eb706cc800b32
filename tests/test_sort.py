"""The kernels' sorting and searching (core.sort) against NumPy's."""

import numpy as np
import pytest

from evgrid_gym.core.sort import insertion_sort, search_right


@pytest.mark.parametrize("n", [0, 1, 2, 7, 40])
def test_insertion_sort_sorts_as_numpy(n):
    values = np.random.default_rng(n).integers(0, 5, n).astype(float)  # with ties
    expected = np.sort(values)
    insertion_sort(values)
    np.testing.assert_array_equal(values, expected)


@pytest.mark.parametrize("n", [0, 1, 2, 7, 96])
def test_search_right_is_searchsorted_right(n):
    rng = np.random.default_rng(n)
    values = np.sort(rng.integers(0, 6, n).astype(float))  # ties: right of all equal entries
    probes = np.concatenate([np.arange(-1.0, 7.0, 0.5), rng.uniform(-1.0, 7.0, 50)])
    found = [search_right(values, x) for x in probes]
    np.testing.assert_array_equal(found, np.searchsorted(values, probes, side="right"))
