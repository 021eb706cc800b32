"""Batch kernels: N envs of one scenario stepped together over a leading env axis.

Every per-env array of the :mod:`evgrid_gym.core.state` groups gains a first axis of length N;
the :class:`~evgrid_gym.core.state.Static` arrays are shared. ``step_batch`` spreads the envs
over the CPU's cores with ``prange`` (``parallel=True``; each env's tick is independent of the
others); ``reset_batch`` restarts the envs whose episodes ended in one serial call.

The work space is per thread, not per env (:func:`workspace`): a tick's temporaries stay in
the cache of the core that runs it, where a row per env would bring a cold one into it on
every env-step. The threads run on numba's TBB threading layer where ``tbb`` is installed
(:mod:`evgrid_gym.core.parallel`: robust when other processes share the cores).
"""

import numba
import numpy as np
from numba import get_thread_id, njit, prange

from evgrid_gym.core.jit import JIT_OPTIONS, kernel
from evgrid_gym.core.parallel import load_tbb
from evgrid_gym.core.tick import reset, step, workspace_size

load_tbb()  # before the first parallel call starts numba's threads
CACHE_LINE_FLOATS = 8  # float64 entries in a 64-byte cache line


def workspace(n_connectors, n_chargers, n_stations, n_buses=0):
    """The work space of :func:`step_batch` and :func:`reset_batch`: float64, shape
    (``numba.config.NUMBA_NUM_THREADS``, ``workspace_size(C, K, S, B)`` + 8), a row per thread
    that numba may start; the rows lie a cache line apart so two threads never write to the
    same line."""
    size = workspace_size(n_connectors, n_chargers, n_stations, n_buses) + CACHE_LINE_FLOATS
    return np.zeros((numba.config.NUMBA_NUM_THREADS, size))


@njit(parallel=True, **JIT_OPTIONS)
def step_batch(
    cfg, connector_charger, charger_f, charger_station, station_f, reward_weights, obs_offsets,
    bus_parent, branch_f, bus_f, net_cfg, exo, ev, outage, conn, res, bess_soc, clock, kpi,
    kpi_total, station_out, obs, actions, status, rewards, work, stepped, reservations,
    network,
):  # fmt: skip
    """Steps every env ``i`` with ``stepped[i]`` once; ``status[i]`` and ``rewards[i]``
    receive its results (the other envs' entries are left as they are).

    The groups' arrays flat, as :func:`~evgrid_gym.core.tick.step` takes them, the per-env
    ones with a leading axis N (``step_batch(*static, *episode, *state, *outputs, actions,
    status, rewards, work, stepped, *static.switches())``); ``actions`` (N, n_actions),
    ``status`` int64 (N,), ``rewards`` float64 (N,), the work space ``work`` of
    :func:`workspace` (env i uses the row of the thread that steps it), ``stepped`` bool
    (N,). The EV tables ``ev`` (N,
    N_EV_FIELDS, max_evs) are padded with +inf (an EV that never requests nor arrives), the
    reservation states ``res`` (N, N_RES_FIELDS, max_evs) with zeros.
    """
    for i in prange(conn.shape[0]):
        if stepped[i]:
            status[i], rewards[i] = step(
                cfg, connector_charger, charger_f, charger_station, station_f, reward_weights,
                obs_offsets, bus_parent, branch_f, bus_f, net_cfg, exo[i], ev[i], outage[i],
                conn[i], res[i], bess_soc[i], clock[i], kpi[i], kpi_total[i], station_out[i],
                obs[i], actions[i], work[get_thread_id()], reservations, network,
            )  # fmt: skip


@kernel
def reset_batch(
    cfg, connector_charger, charger_f, charger_station, station_f, reward_weights, obs_offsets,
    bus_parent, branch_f, bus_f, net_cfg, exo, ev, outage, conn, res, bess_soc, clock, kpi,
    kpi_total, station_out, obs, work, envs, reservations, network,
):  # fmt: skip
    """Resets the envs ``envs`` (int64 indices, shape (m,)) of the batch, their episode arrays
    ``exo[i]``, ``ev[i]`` and ``outage[i]`` already written; arrays as in :func:`step_batch`.

    One compiled call for all of them: a vector env of a thousand copies starts about ten
    episodes per step, and a call per env would cost more than the resets themselves.
    """
    for i in envs:
        reset(
            cfg, connector_charger, charger_f, charger_station, station_f, reward_weights,
            obs_offsets, bus_parent, branch_f, bus_f, net_cfg, exo[i], ev[i], outage[i], conn[i],
            res[i], bess_soc[i], clock[i], kpi[i], kpi_total[i], station_out[i], obs[i], work[0],
            reservations, network,
        )  # fmt: skip
