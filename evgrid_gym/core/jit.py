"""How every kernel of the core is compiled.

- ``cache=True``: compiled once per machine, loaded from numba's on-disk cache afterwards.
- ``error_model="numpy"``: a floating-point division by zero gives inf or nan as in NumPy
  instead of raising ``ZeroDivisionError``. Every division in the core is guarded by a rule of
  the model (a battery has capacity > 0, a station with demand has storage, ...), so the check
  numba's default adds to each division never fires; dropping it makes a vector-env step
  about 10 % faster (``benchmarks/bench_vector.py``).
"""

from numba import njit

JIT_OPTIONS = {"cache": True, "error_model": "numpy"}

kernel = njit(**JIT_OPTIONS)
"""Decorator of the core's kernels: ``numba.njit`` with :data:`JIT_OPTIONS`."""
