"""How every kernel of the core is compiled.

- ``cache=True``: compiled once per machine, loaded from numba's on-disk cache afterwards.
- ``error_model="numpy"``: a floating-point division by zero gives inf or nan as in NumPy
  instead of raising ``ZeroDivisionError``. Every division in the core is guarded by a rule of
  the model (a battery has capacity > 0, a station with demand has storage, ...), so the check
  numba's default adds to each division never fires; dropping it makes a vector-env step
  about 10 % faster (``benchmarks/bench_vector.py``).
"""

import contextlib
from collections.abc import Callable

from numba import njit
from numba.core import event

JIT_OPTIONS = {"cache": True, "error_model": "numpy"}

kernel = njit(**JIT_OPTIONS)
"""Decorator of the core's kernels: ``numba.njit`` with :data:`JIT_OPTIONS`."""


@contextlib.contextmanager
def on_first_compile(notify: Callable[[], None]):
    """Calls ``notify()`` once, when numba starts compiling a function inside the block; not
    when it loads a kernel from its cache (a process that finds the cache warm never calls
    it)."""

    class Listener(event.Listener):
        fired = False

        def on_start(self, _):
            if not self.fired:
                self.fired = True
                notify()

        def on_end(self, _):
            pass

    with event.install_listener("numba:compile", Listener()):
        yield


inlined = njit(inline="always", **JIT_OPTIONS)
"""Decorator of the kernels that take the state groups (:mod:`evgrid_gym.core.state`) and of
the small ones they call per connector: numba inlines them into their caller's IR, so a
group's arrays are never passed through a call. (numba passes a NamedTuple of arrays as one
scalar argument per array field, dozens per group; measured: a tick of ``default`` took 4.0
instead of 2.9 us with them as calls.) The phases of a tick each have one caller, so inlining
costs little compile time."""
