"""The threading layer of the parallel kernels (:mod:`evgrid_gym.core.batch`): Intel TBB.

numba runs ``prange`` loops on one of three threading layers and takes the first it can load
of ``tbb``, ``omp``, ``workqueue``. The vector env steps in short parallel regions (about
80 us for 64 envs), and on a busy machine the layer decides its speed:

- ``omp`` (GNU OpenMP): threads spin at the end of each region waiting for each other; when
  another process holds a core, a spinning thread burns the time slice the thread it waits
  for needs, and a step takes a scheduler tick instead of 80 us. Measured with
  ``benchmarks/bench_vector.py --load 1`` (one busy process beside it on 2 cores): down to
  a third of the idle throughput, and a fourteenth with other jobs on the machine.
- ``tbb``: the calling thread runs whatever work the others have not started, so a
  descheduled worker delays nothing; spinning is short. With one busy process it keeps
  more than half of its idle throughput, which is as fast as ``omp``'s.

So the package depends on PyPI's ``tbb`` (where it has wheels: Linux x86-64, Windows x86-64).
numba finds that library only where the dynamic loader looks, which a virtual environment's
``lib`` folder is not (numba issue #6108); :func:`load_tbb` loads it by its installed path,
so numba's default search then takes ``tbb``. A threading layer chosen by the user
(``NUMBA_THREADING_LAYER=omp`` or ``numba.config.THREADING_LAYER``) still wins, and without
``tbb`` numba's default applies.
"""

from __future__ import annotations

import ctypes
import importlib.metadata

TBB_LIBRARIES = ("libtbb.so.12", "libtbb.12.dylib", "tbb12.dll")
"""File names of the TBB 2021+ runtime that numba's ``tbb`` layer links against."""


def load_tbb() -> bool:
    """Loads the runtime of the installed ``tbb`` package, so that numba can use it.

    Must run before the first parallel kernel starts numba's threads (importing
    :mod:`evgrid_gym.core.batch` runs it).

    Returns:
        True when the TBB runtime is loaded.
    """
    try:
        files = importlib.metadata.files("tbb") or []
    except importlib.metadata.PackageNotFoundError:
        return False
    for file in files:
        if file.name in TBB_LIBRARIES:
            try:
                ctypes.CDLL(str(file.locate()), mode=ctypes.RTLD_GLOBAL)
            except OSError:
                return False
            return True
    return False
