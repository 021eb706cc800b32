"""The community energy market and its external supplier (``tick.step``,
``market.clear_market``).

External energy ``x[t]`` and the surplus ``y[t]`` (exported or curtailed), kWh, with
``x - y = (households + sum_s n - renewable) dt`` over the stations whose link is up,
``x, y >= 0``. Where the reward of buying and selling at once is positive (the feed-in price
above the external price) a binary ``u`` makes them exclusive; elsewhere the LP is exact. A
station whose link is down buys its demand outside the market, at the external rate.

Reward: energy cost ``price * x`` and external energy ``x``, export revenue ``feed_in * y``
(times their weights, :class:`~baselines.optimal.reward.RewardRates`), the same on the demand
of a station whose link is down; payments between community members are transfers and
cancel.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyomo.environ as pyo

from baselines.optimal.reward import PAYS_TOL, RewardRates, Terms
from baselines.optimal.station import StationNet
from baselines.optimal.window import Window


@dataclass(frozen=True)
class Market:
    """The market's ticks.

    Attributes:
        ticks: ticks with a station decision, where the market has variables (absolute).
        fixed_net_kwh: ``(tick, net import kWh)`` of the community at the other ticks (no
            decision changes it).
    """

    ticks: list[int]
    fixed_net_kwh: list[tuple[int, float]]


def add_market(
    b: pyo.Block, station: pyo.Block, net: StationNet, window: Window, rates: RewardRates
) -> Market:
    """Adds the market's energies, balance and buy-or-sell binaries to the empty block ``b``."""
    t0, dt, n = window.t0, window.dt_h, station.net_kw
    household_kw, renewable_kw = window.household_kw, window.renewable_kw
    ticks = [t for t in window.ticks if t in net.by_tick]
    fixed = [
        (t, (household_kw[t - t0] - renewable_kw[t - t0]) * dt)
        for t in window.ticks
        if t not in net.by_tick
    ]
    link_down = set(net.link_down)
    b.external_kwh = pyo.Var(
        ticks, domain=pyo.NonNegativeReals, doc="x: energy from the external supplier, kWh"
    )
    b.surplus_kwh = pyo.Var(
        ticks, domain=pyo.NonNegativeReals, doc="y: surplus energy, exported or curtailed, kWh"
    )
    b.balance = pyo.Constraint(
        ticks,
        rule=lambda _, t: (
            b.external_kwh[t] - b.surplus_kwh[t]
            == (household_kw[t - t0] - renewable_kw[t - t0]) * dt
            + dt * sum(n[k] for k in net.by_tick[t] if k not in link_down)
        ),
        doc="x - y = (households + sum n - renewable) dt, kWh",
    )
    ext, sur = rates.external_per_kwh, rates.surplus_per_kwh
    buy_ticks = [t for t in ticks if ext[t - t0] + sur[t - t0] > PAYS_TOL]
    b.buying = pyo.Var(buy_ticks, domain=pyo.Binary, doc="u: 1 when buying, 0 when selling (-)")

    def x_big(t):
        return (household_kw[t - t0] + sum(max(n[k].ub, 0.0) for k in net.by_tick[t])) * dt

    def y_big(t):
        return (renewable_kw[t - t0] + sum(max(-n[k].lb, 0.0) for k in net.by_tick[t])) * dt

    b.buy = pyo.Constraint(
        buy_ticks,
        rule=lambda _, t: b.external_kwh[t] <= x_big(t) * b.buying[t],
        doc="x <= X u, kWh",
    )
    b.sell = pyo.Constraint(
        buy_ticks,
        rule=lambda _, t: b.surplus_kwh[t] <= y_big(t) * (1 - b.buying[t]),
        doc="y <= Y (1 - u), kWh",
    )
    return Market(ticks, fixed)


def supplier_terms(
    b: pyo.Block,
    station: pyo.Block,
    market: Market,
    net: StationNet,
    rates: RewardRates,
    window: Window,
) -> Terms:
    """Energy bought from (and sold to) the supplier, in and out of the market, times its
    rate per kWh."""
    t0, ext, sur = window.t0, rates.external_per_kwh, rates.surplus_per_kwh
    terms = Terms()
    for t, net_kwh in market.fixed_net_kwh:
        terms.constant += ext[t - t0] * max(net_kwh, 0.0) + sur[t - t0] * max(-net_kwh, 0.0)
    for t in market.ticks:
        if ext[t - t0] != 0.0:
            terms.expressions.append(float(ext[t - t0]) * b.external_kwh[t])
        if sur[t - t0] != 0.0:
            terms.expressions.append(float(sur[t - t0]) * b.surplus_kwh[t])
    # a station whose link is down buys its demand outside the market
    terms.expressions += [
        float(ext[k[1] - t0] * window.dt_h) * station.net_kw[k] for k in net.link_down
    ]
    return terms
