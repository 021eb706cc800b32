"""The forced pairs: EVs at a station whose link is down, on a charger that is up.

The env asks each of their connectors for the fallback power ``f`` (``CH_FALLBACK_KW``) and
the EV takes what its CC-CV curve allows (``tick.step``): a battery gain of
``min(eta f dt, G(E), target - E)`` at tick-start energy ``E``. Those powers are *forced*,
pinned by binaries that pick the binding affine piece. Outside the curved part of ``G`` (its
mixed interval, :mod:`baselines.optimal.cccv`) the gain is the minimum of affine pieces: the
constant ``eta min(f, P) dt``, the CV line ``A(E) = (Q - E)(1 - exp(-k dt))`` and
``target - E``; a binary per piece that can bind makes the gain equal to one of them, and a
binary keeps ``E`` out of the window where the curved part would bind
(:func:`~baselines.optimal.cccv.curved_window_kwh`). The gain is then exactly the env's, so
the replay matches. Such a station has no V2G and its BESS idles (their bounds are 0); its
demand is bought outside the market (:mod:`baselines.optimal.market`) and it is out of the
feeder's curtailment (:mod:`baselines.optimal.feeder`).

Inner restriction (the model's one for the fallback): an EV whose CV power at the transition
is below the fallback power is kept out of the short energy window where its curved CC-CV
gain would bind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pyomo.environ as pyo

from baselines.optimal import cccv

if TYPE_CHECKING:
    from baselines.optimal.ev import Evs, Pairs


class Piece(NamedTuple):
    """An affine piece of a forced pair's gain: ``gain <= alpha - beta E``, and ``>=`` when
    its binary is 1 (``big_kwh``: how far below the piece the gain may lie otherwise)."""

    pair: int
    alpha_kwh: float
    beta: float
    big_kwh: float


class CurvedWindow(NamedTuple):
    """Energies ``(low_kwh, high_kwh)`` at tick start a forced pair must stay out of: ``E <=
    low`` or ``E >= high`` (``big_low_kwh``, ``big_high_kwh``: the big-M of each side)."""

    pair: int
    low_kwh: float
    high_kwh: float
    big_low_kwh: float
    big_high_kwh: float


def _rows(evs, pairs, forced, e_low, e_high, theta, dt):
    """The :class:`Piece` and :class:`CurvedWindow` rows of the forced pairs."""
    pieces, windows = [], []
    eta = [float(x) for x in pairs.eta]
    for j in forced:
        i = pairs.ev[j]
        q_kwh, p_kw = float(evs.capacity_kwh[i]), float(pairs.p_max_kw[j])
        e_t = float(evs.target_kwh[i])
        lo, hi = e_low[j], e_high[j]
        flat = eta[j] * float(pairs.fallback_kw[j]) * dt
        lines = [(flat, 0.0), (e_t, 1.0)]
        if theta < 1.0:
            decay = cccv.cv_decay(q_kwh, p_kw, eta[j], theta, dt)
            lines.append((q_kwh * decay, decay))
        # a piece that stays above the flat one over the reachable range never binds
        lines = [line for line in lines if line[1] == 0.0 or line[0] - line[1] * hi < flat]
        pieces += [Piece(j, alpha, beta, max(alpha - beta * lo, 0.0)) for alpha, beta in lines]
        e1, e2 = cccv.curved_window_kwh(q_kwh, p_kw, eta[j], theta, dt, flat, e_t)
        if max(e1, lo) < min(e2, hi):
            windows.append(CurvedWindow(j, e1, e2, hi - e1, e2 - lo))
    return pieces, windows


def add_fallback(
    b: pyo.Block,
    ev: pyo.Block,
    evs: Evs,
    pairs: Pairs,
    forced: list[int],
    gain_kwh: np.ndarray,
    theta: float,
    dt: float,
) -> None:
    """Pins the ``forced`` pairs' powers in the empty block ``b``.

    Args:
        b: the block to fill; ev: the EV block (``charge_kw``, ``energy_kwh``).
        evs, pairs: the window's :class:`~baselines.optimal.ev.Evs` and
            :class:`~baselines.optimal.ev.Pairs`.
        forced: the forced pairs with a decision.
        gain_kwh: per pair, the CC gain ``eta P dt``, kWh, shape (J,).
        theta: the transition soc; dt: the tick, h.
    """
    e_index = pairs.energy_index
    e_low, e_high = {}, {}
    for j in forced:  # E's bounds at tick start, and the most energy the EV can hold then
        energy = ev.energy_kwh[int(e_index[j])]
        i = pairs.ev[j]
        reach = evs.start_kwh[i] + (e_index[j] - evs.energy_offset[i]) * gain_kwh[j]
        e_low[j], e_high[j] = float(energy.lb), float(min(energy.ub, reach))
    pieces, windows = _rows(evs, pairs, forced, e_low, e_high, theta, dt)
    _add_pieces(b, ev, pairs, pieces, dt)
    _add_windows(b, ev, pairs, windows)


def _add_pieces(b, ev, pairs, pieces: list[Piece], dt) -> None:
    eta, e_index = pairs.eta.tolist(), pairs.energy_index.tolist()
    p, energy = ev.charge_kw, ev.energy_kwh

    def gain(r):
        j = pieces[r].pair
        return (eta[j] * dt) * p[j] + pieces[r].beta * energy[e_index[j]]

    rows = range(len(pieces))
    b.piece = pyo.Var(rows, domain=pyo.Binary, doc="1 for the piece the gain equals (-)")
    b.upper = pyo.Constraint(
        rows,
        rule=lambda _, r: gain(r) <= pieces[r].alpha_kwh,
        doc="eta dt p <= alpha - beta E, kWh",
    )
    b.lower = pyo.Constraint(
        rows,
        rule=lambda _, r: gain(r) >= pieces[r].alpha_kwh - pieces[r].big_kwh * (1 - b.piece[r]),
        doc="eta dt p >= alpha - beta E where the piece is chosen, kWh",
    )
    by_pair: dict[int, list[int]] = {}
    for r, piece in enumerate(pieces):
        by_pair.setdefault(piece.pair, []).append(r)
    b.one = pyo.Constraint(
        list(by_pair),
        rule=lambda _, j: sum(b.piece[r] for r in by_pair[j]) == 1,
        doc="one piece per forced pair (-)",
    )
    for only in (rs for rs in by_pair.values() if len(rs) == 1):
        b.piece[only[0]].fix(1)  # the flat piece alone: the fallback power


def _add_windows(b, ev, pairs, windows: list[CurvedWindow]) -> None:
    e_index = pairs.energy_index.tolist()
    energy = ev.energy_kwh
    rows = range(len(windows))
    b.above = pyo.Var(rows, domain=pyo.Binary, doc="1 when E lies above the curved window (-)")
    b.below_window = pyo.Constraint(
        rows,
        rule=lambda _, i: (
            energy[e_index[windows[i].pair]]
            <= windows[i].low_kwh + windows[i].big_low_kwh * b.above[i]
        ),
        doc="E <= low unless above, kWh",
    )
    b.above_window = pyo.Constraint(
        rows,
        rule=lambda _, i: (
            energy[e_index[windows[i].pair]]
            >= windows[i].high_kwh - windows[i].big_high_kwh * (1 - b.above[i])
        ),
        doc="E >= high when above, kWh",
    )
