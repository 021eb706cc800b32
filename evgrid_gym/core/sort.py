"""Sorting and searching for the kernels' short arrays, without allocating and cheap to
compile."""

from evgrid_gym.core.jit import kernel


@kernel
def insertion_sort(values):
    """Sorts ``values`` ascending, in place.

    Allocation-free, unlike numba's ``ndarray.sort`` (which allocates its partition stack),
    and fast for the few entries the kernels sort (one or two per station). Quadratic in the
    worst case, so not meant for long arrays.
    """
    for i in range(1, values.shape[0]):
        value = values[i]
        j = i - 1
        while j >= 0 and values[j] > value:
            values[j + 1] = values[j]
            j -= 1
        values[j + 1] = value


@kernel
def search_right(values, x):
    """``np.searchsorted(values, x, side="right")`` for ascending ``values`` (shape (n,)) and
    a number ``x``, neither NaN: the count of entries <= ``x``, by bisection.

    numba's ``np.searchsorted`` compiles its NaN- and complex-aware comparisons on first use,
    half a second of a first run for the three scalar look-ups of a session draw.
    """
    low, high = 0, values.shape[0]
    while low < high:
        middle = (low + high) // 2
        if values[middle] <= x:
            low = middle + 1
        else:
            high = middle
    return low
