"""The two-stage CC-CV charging curve as linear pieces (pure arithmetic, no Pyomo).

``G(E)``, kWh: the most energy a battery of capacity ``Q`` gains in one tick from energy ``E``
at its tick start (:func:`evgrid_gym.core.battery.max_charge_energy_kwh`, ACN-Sim's
``Linear2StageBattery``): the constant ``eta P dt`` in the CC stage, the affine
``A(E) = (Q - E)(1 - exp(-k dt))`` (``k = eta P / (Q (1 - theta))``) once the tick starts in
the CV stage, and curved in between, on the *mixed interval*
``[theta Q - eta P dt, theta Q]``. ``G`` is concave: it lies above its chords and below its
tangent ``A``, so ``min(eta P dt, A, chords)`` is an inner approximation of ``G``, equal to it
outside the mixed interval. Symbols: ``Q`` capacity kWh, ``P`` the EV's (and charger's) max
power kW, ``eta`` the charger efficiency, ``theta`` the transition soc, ``dt`` the tick, h.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from evgrid_gym.core.battery import max_charge_energy_kwh


class Line(NamedTuple):
    """A bound ``gain <= alpha_kwh - beta * E`` on the tick's battery gain, kWh: the CV line
    ``A`` (``high_kwh = inf``) or the chord of ``G`` over ``[low_kwh, high_kwh]``."""

    alpha_kwh: float
    beta: float
    low_kwh: float
    high_kwh: float


def gain_kwh(e_kwh, q_kwh, p_kw, eta, theta, dt_h):
    """``G(E)``, kWh: the exact CC-CV gain from energy ``E`` (``max_charge_energy_kwh``)."""
    return max_charge_energy_kwh(e_kwh / q_kwh, q_kwh, p_kw, eta, theta, dt_h)


def chord(a, b, q_kwh, p_kw, eta, theta, dt_h):
    """``(alpha, beta)`` of the chord of ``G`` over ``[a, b]``: ``gain <= alpha - beta * E``."""
    ga = gain_kwh(a, q_kwh, p_kw, eta, theta, dt_h)
    gb = gain_kwh(b, q_kwh, p_kw, eta, theta, dt_h)
    slope = (gb - ga) / (b - a)
    return ga - slope * a, -slope


def cv_decay(q_kwh, p_kw, eta, theta, dt_h):
    """``1 - exp(-k dt)``: the slope of the CV line ``A(E) = (Q - E)(1 - exp(-k dt))``."""
    return -math.expm1(-eta * p_kw / (q_kwh * (1.0 - theta)) * dt_h)


def cv_lines(q_kwh, p_kw, eta, theta, dt_h, segments) -> list[Line]:
    """The lines bounding the CC-CV gain below the CC constant ``eta P dt``: the CV line
    ``A(E)`` (it equals ``G`` on ``[theta Q, inf)``) and ``segments`` chords of ``G`` over the
    mixed interval; none without a taper (``theta >= 1``) or power."""
    if theta >= 1.0 or p_kw <= 0.0:
        return []
    rate = eta * p_kw
    decay = cv_decay(q_kwh, p_kw, eta, theta, dt_h)
    e_hi = theta * q_kwh
    lines = [Line(q_kwh * decay, decay, e_hi, math.inf)]
    xs = np.linspace(e_hi - rate * dt_h, e_hi, segments + 1).tolist()
    for a, b in zip(xs[:-1], xs[1:], strict=True):
        lines.append(Line(*chord(a, b, q_kwh, p_kw, eta, theta, dt_h), a, b))
    return lines


def curved_window_kwh(q_kwh, p_kw, eta, theta, dt_h, cap_kwh, target_kwh):
    """``(low, high)``: energies at tick start where a fallback gain ``cap_kwh`` meets the
    *curved* part of ``G`` (its mixed interval), so that ``min(cap, G(E), target - E)`` is not
    the minimum of affine pieces; empty when ``low >= high``.

    On the mixed interval ``[a, b] = [theta Q - eta P dt, theta Q]`` both ``G`` and
    ``E + G(E)`` are monotone (``-1 <= G' <= 0``): ``G < cap`` above ``E1`` and
    ``G < target - E`` below ``E2``; the window is ``(max(a, E1), min(b, E2))``.
    """
    if theta >= 1.0:
        return 0.0, 0.0
    b = theta * q_kwh
    a = max(b - eta * p_kw * dt_h, 0.0)

    def gain(e):
        return gain_kwh(e, q_kwh, p_kw, eta, theta, dt_h)

    def crossing(f, level):  # the E in [a, b] where the non-increasing f falls to level
        if f(a) <= level:
            return a
        if f(b) > level:
            return b
        low, high = a, b
        for _ in range(100):
            mid = 0.5 * (low + high)
            low, high = (mid, high) if f(mid) > level else (low, mid)
        return high

    e1 = crossing(gain, cap_kwh)
    e2 = crossing(lambda e: -(e + gain(e)), -target_kwh)
    return e1, e2
