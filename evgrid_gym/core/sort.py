"""In-place sorting for the kernels' short work arrays."""

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
