"""Small signal kernels for the exogenous input generators."""

from evgrid_gym.core.jit import kernel


@kernel
def ar1(shocks, phi, start, out):
    """AR(1) recursion ``out[t] = phi * out[t-1] + shocks[t]`` with ``out[-1] = start``.

    Args:
        shocks: innovations, shape (n,).
        phi: autoregressive coefficient.
        start: the value before the first tick.
        out: output, shape (n,).
    """
    previous = start
    for t in range(shocks.shape[0]):
        previous = phi * previous + shocks[t]
        out[t] = previous
