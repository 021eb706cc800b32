"""Power flow on a radial distribution network by the linearised DistFlow equations.

LinDistFlow: the "simplified DistFlow" equations of M. E. Baran and F. F. Wu, "Network
reconfiguration in distribution systems for loss reduction and load balancing", IEEE Trans.
Power Delivery 4(2), 1401-1407, 1989.
Bus ``j`` is fed by branch ``j`` (resistance ``r``, reactance ``x``, ohm) from its upstream bus
``i``; with powers in kW and kvar, the squared voltage magnitude ``v = V^2`` (pu^2) and the
nominal line-to-line voltage ``Vn`` in kV::

    P_j = p_j + sum of P_k over the branches k leaving bus j      (power balance, lossless)
    Q_j = q_j + sum of Q_k over the branches k leaving bus j
    v_j = v_i - 2 (r_j P_j + x_j Q_j) / (1000 Vn^2)                (voltage drop)
    v_0 = slack voltage^2

``p_j, q_j`` is what bus ``j`` draws (consumption positive). Assumptions: balanced three-phase
operation, losses neglected in the flows (the term ``r (P^2 + Q^2) / V^2``), and the voltage
drop's quadratic term dropped, so flows and squared voltages are linear in the injections
(an LP can carry them). Validity: voltages near 1 pu and losses small against the flows,
which holds within the usual operating limits (``benchmarks/bench_network.py`` measures the
error against pandapower's AC power flow).

Loading: a branch carrying apparent power ``S = sqrt(P^2 + Q^2)`` draws current
``S / (sqrt(3) V)``; against its rated current (``BR_RATED_KVA = sqrt(3) Vn I_max``, the
transformer's rating) the loading is ``S / (BR_RATED_KVA * V)`` with the lower voltage of its
two ends (the larger of the two end currents, pandapower's definition). The current limit is
thus ``P^2 + Q^2 <= BR_RATED_KVA^2 * v`` at both ends: convex in the injections (a rotated
second-order cone), and quadratic along any line of injections.

Hard limits (:func:`scale_interval`, :func:`largest_scale`): the stations' powers are scaled
by one common factor ``alpha``, the largest in [0, 1] that keeps every bus voltage (buses 1..)
within ``[NET_V_MIN_PU, NET_V_MAX_PU]`` and every branch's current within its rating; 0 when
no ``alpha`` in [0, 1] does (the other loads alone break a limit). Along ``alpha`` each voltage
limit is linear and each current limit a convex quadratic, so every limit holds on an interval
of ``alpha``; the answer is the upper end of their intersection, in closed form.

In the tick (:mod:`evgrid_gym.core.tick`) the community sits on the buses as ``bus_f`` and
``station_f[ST_BUS]`` say (:func:`bus_powers`): households draw their share of the household
load at the households' power factor, turbines and PV feed in their share of the wind (after
turbine outages) and PV output at unity power factor, each station draws its net import at
the stations' power factor. Three power flows a tick:

- the projection's (hard limits, :func:`limit_stations`): step 5 of
  :mod:`evgrid_gym.core.projection`, on the powers the first four steps left;
- the tick's (:func:`book_network`): the powers applied, renewables less what the market
  curtailed; its KPIs (voltage extremes, loadings, violations and their penalty);
- the observation's (:func:`station_grid_state`): the next tick's households and
  renewables (before curtailment) with the stations still at the power they drew in the
  tick just stepped (0 at reset): the voltage at each station's bus and the headroom of the
  most loaded branch between it and the transformer.
Arrays follow :mod:`evgrid_gym.core.layout` (section "network"); every kernel is
allocation-free (those of the tick take a work space of :func:`workspace_size`).
"""

import math

from evgrid_gym.core.jit import kernel
from evgrid_gym.core.layout import (
    BR_R_OHM,
    BR_RATED_KVA,
    BR_X_OHM,
    BUS_HOUSEHOLD_SHARE,
    BUS_PV_SHARE,
    BUS_WIND_SHARE,
    EXO_RENEWABLE_KW,
    EXO_WIND_KW,
    NET_HOUSEHOLD_TAN_PHI,
    NET_SLACK_PU,
    NET_STATION_TAN_PHI,
    NET_V_MAX_PU,
    NET_V_MIN_PU,
    NET_VN_KV,
    ST_BUS,
)


def workspace_size(n_buses):
    """Length of the float64 work space of the tick's network kernels (0 without a network)."""
    return 10 * n_buses


@kernel
def renewables_kw(exo, outage, tick):
    """``(wind_kw, pv_kw)``: the wind output of ``tick`` less the share of wind capacity down
    (the outage timeline's last column), and its PV output (the rest of the renewables)."""
    wind_kw = exo[EXO_WIND_KW, tick]
    wind_down = outage[tick, outage.shape[1] - 1]
    return wind_kw * (1.0 - wind_down), exo[EXO_RENEWABLE_KW, tick] - wind_kw


@kernel
def community_powers(bus_f, net_cfg, household_kw, wind_kw, pv_kw, bus_p_kw, bus_q_kvar):
    """Per-bus power of households, turbines and PV (the stations come on top).

    Args:
        bus_f, net_cfg: the network (``core.layout``, section "network").
        household_kw: the household load, kW (drawn at the households' power factor).
        wind_kw, pv_kw: wind and PV output fed in, kW (>= 0; unity power factor).
        bus_p_kw, bus_q_kvar: output, shape (B,); positive = drawn from the network.
    """
    tan_phi = net_cfg[NET_HOUSEHOLD_TAN_PHI]
    for b in range(bus_p_kw.shape[0]):
        household_b_kw = household_kw * bus_f[BUS_HOUSEHOLD_SHARE, b]
        bus_p_kw[b] = (
            household_b_kw - wind_kw * bus_f[BUS_WIND_SHARE, b] - (pv_kw * bus_f[BUS_PV_SHARE, b])
        )
        bus_q_kvar[b] = household_b_kw * tan_phi


@kernel
def add_station_powers(
    station_f, net_cfg, station_kw, link_down, reachable_factor, fixed_factor, bus_p_kw,
    bus_q_kvar,
):  # fmt: skip
    """Adds each station's power at its bus (the stations' power factor), times
    ``fixed_factor`` for the stations whose link is down (``link_down[s] > 0``: out of the
    limits' reach) and ``reachable_factor`` for the others.

    Args:
        station_f: station parameters (``ST_BUS``), shape (N_STATION_FIELDS, S).
        station_kw: net import of each station, kW, shape (S,).
        link_down: > 0 where a station's link is down, shape (S,).
    """
    tan_phi = net_cfg[NET_STATION_TAN_PHI]
    for s in range(station_kw.shape[0]):
        factor = fixed_factor if link_down[s] > 0.0 else reachable_factor
        b = int(station_f[ST_BUS, s])
        bus_p_kw[b] += factor * station_kw[s]
        bus_q_kvar[b] += factor * station_kw[s] * tan_phi


@kernel
def branch_flows(bus_parent, bus_p_kw, bus_q_kvar, branch_p_kw, branch_q_kvar):
    """Lossless flows: each branch carries what its downstream buses draw.

    Args:
        bus_parent: upstream bus of each bus, int64, shape (B,).
        bus_p_kw, bus_q_kvar: power drawn per bus, kW and kvar, shape (B,).
        branch_p_kw, branch_q_kvar: output, shape (B,): branch j >= 1 flows from
            ``bus_parent[j]`` to ``j``; column 0 is the total the slack supplies.
    """
    for j in range(bus_parent.shape[0]):  # a loop, not ``a[:] = b``: no shape-check code
        branch_p_kw[j] = bus_p_kw[j]
        branch_q_kvar[j] = bus_q_kvar[j]
    for j in range(bus_parent.shape[0] - 1, 0, -1):  # leaves first: children follow parents
        branch_p_kw[bus_parent[j]] += branch_p_kw[j]
        branch_q_kvar[bus_parent[j]] += branch_q_kvar[j]


@kernel
def squared_voltages(bus_parent, branch_f, vn_kv, root_v2, branch_p_kw, branch_q_kvar, v2):
    """Squared voltages ``v = V^2`` (pu^2) down the tree from ``v[0] = root_v2``.

    With ``root_v2 = 0`` and the flows of a change of injections, it gives the change of the
    squared voltages (they are linear in the injections).
    """
    drop_per_kw_ohm = 2e-3 / (vn_kv * vn_kv)
    v2[0] = root_v2
    for j in range(1, bus_parent.shape[0]):
        v2[j] = v2[bus_parent[j]] - drop_per_kw_ohm * (
            branch_f[BR_R_OHM, j] * branch_p_kw[j] + branch_f[BR_X_OHM, j] * branch_q_kvar[j]
        )


@kernel
def power_flow(
    bus_parent, branch_f, net_cfg, bus_p_kw, bus_q_kvar, bus_v_pu, branch_p_kw, branch_q_kvar,
    branch_loading_pct,
):  # fmt: skip
    """LinDistFlow bus voltages, branch flows and branch loadings (module docstring).

    Args:
        bus_parent, branch_f, net_cfg: the network (``core.layout``, section "network").
        bus_p_kw, bus_q_kvar: power drawn per bus, kW and kvar, shape (B,).
        bus_v_pu: output, voltage magnitude per bus, pu, shape (B,) (0 where the linear model
            gives a negative squared voltage: far outside its validity).
        branch_p_kw, branch_q_kvar: output, flows, shape (B,) (:func:`branch_flows`).
        branch_loading_pct: output, current in % of the rating, shape (B,) (column 0: 0).
    """
    branch_flows(bus_parent, bus_p_kw, bus_q_kvar, branch_p_kw, branch_q_kvar)
    slack = net_cfg[NET_SLACK_PU]
    squared_voltages(
        bus_parent, branch_f, net_cfg[NET_VN_KV], slack * slack, branch_p_kw, branch_q_kvar,
        bus_v_pu,
    )  # fmt: skip
    for j in range(bus_parent.shape[0]):
        bus_v_pu[j] = math.sqrt(max(bus_v_pu[j], 0.0))
    branch_loading_pct[0] = 0.0
    for j in range(1, bus_parent.shape[0]):
        v_pu = min(bus_v_pu[bus_parent[j]], bus_v_pu[j])
        branch_loading_pct[j] = (
            100.0 * math.hypot(branch_p_kw[j], branch_q_kvar[j])
            / (branch_f[BR_RATED_KVA, j] * v_pu)
        )  # fmt: skip


@kernel
def network_kpis(net_cfg, bus_v_pu, branch_p_kw, branch_loading_pct):
    """The KPIs of a power flow: ``(v_min_pu, v_max_pu, line_loading_pct,
    transformer_loading_pct, overload_kw, voltage_deviation_pu)``.

    The extreme voltages over buses 1.. (the lv side), the most loaded line (0 without lines)
    and the transformer (branch 1); the active power above the branches' ratings, summed over
    the overloaded branches (a branch at loading ``L > 100 %`` carries ``|P| (1 - 100 / L)``
    more than its rating allows at its power factor); the worst bus's deviation outside
    ``[NET_V_MIN_PU, NET_V_MAX_PU]`` (0 when every bus is inside).
    """
    v_min = bus_v_pu[1]
    v_max = bus_v_pu[1]
    for j in range(2, bus_v_pu.shape[0]):
        v_min = min(v_min, bus_v_pu[j])
        v_max = max(v_max, bus_v_pu[j])
    line_max = 0.0
    overload_kw = 0.0
    for j in range(1, branch_loading_pct.shape[0]):
        loading = branch_loading_pct[j]
        if j >= 2:
            line_max = max(line_max, loading)
        if loading > 100.0:
            overload_kw += abs(branch_p_kw[j]) * (1.0 - 100.0 / loading)
    deviation = max(net_cfg[NET_V_MIN_PU] - v_min, v_max - net_cfg[NET_V_MAX_PU], 0.0)
    return v_min, v_max, line_max, branch_loading_pct[1], overload_kw, deviation


@kernel
def upstream_headroom_kva(bus_parent, branch_f, bus_v_pu, branch_p_kw, branch_q_kvar, bus):
    """Apparent power the branches between the slack and ``bus`` can still carry, kVA.

    The smallest ``BR_RATED_KVA * V - S`` over the branches on the path (transformer
    included), ``V`` the lower voltage of each branch's ends: what one more load at ``bus``
    could draw before the most constraining upstream branch reaches its rated current
    (negative when one is above it). ``inf`` for ``bus`` 0.
    """
    headroom = math.inf
    j = bus
    while j > 0:
        i = bus_parent[j]
        rated_kva = branch_f[BR_RATED_KVA, j] * min(bus_v_pu[i], bus_v_pu[j])
        headroom = min(headroom, rated_kva - math.hypot(branch_p_kw[j], branch_q_kvar[j]))
        j = i
    return headroom


@kernel
def _below_linear(low, high, b, c):
    """``[low, high]`` intersected with ``{x : b x + c <= 0}`` (empty: low > high)."""
    if b > 0.0:
        return low, min(high, -c / b)
    if b < 0.0:
        return max(low, -c / b), high
    if c > 0.0:
        return math.inf, -math.inf
    return low, high


@kernel
def _below_quadratic(low, high, a, b, c):
    """``[low, high]`` intersected with ``{x : a x^2 + b x + c <= 0}``, ``a >= 0``."""
    if a <= 0.0:
        return _below_linear(low, high, b, c)
    disc = b * b - 4.0 * a * c
    if disc < 0.0:
        return math.inf, -math.inf
    q = -0.5 * (b + math.copysign(math.sqrt(disc), b))  # roots q / a and c / q, no cancellation
    if q == 0.0:
        return max(low, 0.0), min(high, 0.0)
    first, second = q / a, c / q
    return max(low, min(first, second)), min(high, max(first, second))


@kernel
def scale_interval(
    bus_parent, branch_f, net_cfg, base_p_kw, base_q_kvar, step_p_kw, step_q_kvar, low, high,
    work,
):  # fmt: skip
    """``[low, high]`` intersected with the ``alpha`` that meet every limit at
    ``base + alpha * step`` (empty: ``low > high``).

    Limits: voltages of buses 1.. within ``[NET_V_MIN_PU, NET_V_MAX_PU]`` and the current of
    every branch (both ends) within its rating, all under LinDistFlow.

    Args:
        bus_parent, branch_f, net_cfg: the network.
        base_p_kw, base_q_kvar, step_p_kw, step_q_kvar: per-bus powers, shape (B,).
        low, high: the interval to intersect.
        work: float64 work space, shape (>= 6B,); overwritten.

    Returns:
        ``(low, high)``.
    """
    n = bus_parent.shape[0]
    p0 = work[:n]
    q0 = work[n : 2 * n]
    v0 = work[2 * n : 3 * n]
    dp = work[3 * n : 4 * n]
    dq = work[4 * n : 5 * n]
    dv = work[5 * n : 6 * n]
    vn_kv = net_cfg[NET_VN_KV]
    slack = net_cfg[NET_SLACK_PU]
    branch_flows(bus_parent, base_p_kw, base_q_kvar, p0, q0)
    squared_voltages(bus_parent, branch_f, vn_kv, slack * slack, p0, q0, v0)
    branch_flows(bus_parent, step_p_kw, step_q_kvar, dp, dq)
    squared_voltages(bus_parent, branch_f, vn_kv, 0.0, dp, dq, dv)
    v2_min = net_cfg[NET_V_MIN_PU] ** 2
    v2_max = net_cfg[NET_V_MAX_PU] ** 2
    for j in range(1, n):
        # v0 + a dv <= v2_max and v2_min <= v0 + a dv
        low, high = _below_linear(low, high, dv[j], v0[j] - v2_max)
        low, high = _below_linear(low, high, -dv[j], v2_min - v0[j])
        # (p0 + a dp)^2 + (q0 + a dq)^2 <= rated^2 (v0 + a dv) at both ends of branch j
        rated2 = branch_f[BR_RATED_KVA, j] ** 2
        a = dp[j] * dp[j] + dq[j] * dq[j]
        b = 2.0 * (p0[j] * dp[j] + q0[j] * dq[j])
        c = p0[j] * p0[j] + q0[j] * q0[j]
        for end in (bus_parent[j], j):
            low, high = _below_quadratic(low, high, a, b - rated2 * dv[end], c - rated2 * v0[end])
    return low, high


@kernel
def largest_in_unit(low, high):
    """The largest ``alpha`` of ``[low, high]`` in [0, 1]; 0 when they do not meet."""
    if low > high or high < 0.0 or low > 1.0:
        return 0.0
    return min(high, 1.0)


@kernel
def largest_scale(
    bus_parent, branch_f, net_cfg, base_p_kw, base_q_kvar, step_p_kw, step_q_kvar, work
):  # fmt: skip
    """Largest ``alpha`` in [0, 1] with every limit met at ``base + alpha * step``, 0 when
    there is none (the hard-limit rule of the module docstring; :func:`scale_interval`).

    Args:
        work: float64 work space, shape (>= 6B,); overwritten.
    """
    low, high = scale_interval(bus_parent, branch_f, net_cfg, base_p_kw, base_q_kvar, step_p_kw,
                               step_q_kvar, -math.inf, math.inf, work)  # fmt: skip
    return largest_in_unit(low, high)


@kernel
def limit_stations(
    bus_parent, branch_f, bus_f, net_cfg, station_f, household_kw, wind_kw, pv_kw,
    curtailable, station_kw, link_down, feeder_kw, work,
):  # fmt: skip
    """Step 5 of :mod:`evgrid_gym.core.projection` (hard limits): the factor ``alpha`` the
    reachable stations' powers are to be multiplied by.

    The largest ``alpha`` in [0, 1] such that, with every reachable station (link up) at
    ``alpha`` times its net import ``station_kw`` and the others at theirs:

    - every network limit holds (:func:`scale_interval`) with the renewables feeding in
      their whole output, and, where the market may curtail them (``curtailable``: no
      export), also with them feeding in nothing; the limits are convex in the powers, so
      they then hold for any part of the output the market leaves (its curtailment is only
      known after the projection);
    - the feeder's import (households plus the stations' net imports) stays within
      ``max(feeder_kw, its import at alpha = 1)``: the step never undoes step 4 (it would
      when cutting the stations' export while the households alone exceed the feeder).

    0 when no ``alpha`` in [0, 1] meets them all (the stations draw nothing).

    Args:
        bus_parent, branch_f, bus_f, net_cfg: the network; ``station_f``: ``ST_BUS``.
        household_kw, wind_kw, pv_kw: the tick's household load and renewable output, kW.
        curtailable: True when the market may curtail the renewables.
        station_kw: net import of each station after steps 1-4, kW, shape (S,).
        link_down: > 0 where a station's link is down, shape (S,).
        feeder_kw: the feeder's limit, kW.
        work: float64 work space, shape (>= :func:`workspace_size`,); overwritten.
    """
    n = bus_parent.shape[0]
    base_p, base_q = work[:n], work[n : 2 * n]
    step_p, step_q = work[2 * n : 3 * n], work[3 * n : 4 * n]
    step_p[:] = 0.0
    step_q[:] = 0.0
    add_station_powers(station_f, net_cfg, station_kw, link_down, 1.0, 0.0, step_p, step_q)
    reachable_kw = 0.0
    fixed_kw = 0.0
    for s in range(station_kw.shape[0]):
        if link_down[s] > 0.0:
            fixed_kw += station_kw[s]
        else:
            reachable_kw += station_kw[s]
    room_kw = max(feeder_kw - household_kw - fixed_kw, reachable_kw)
    low, high = _below_linear(-math.inf, math.inf, reachable_kw, -room_kw)
    for fed_in in (1.0, 0.0):
        if fed_in == 0.0 and not curtailable:
            break
        community_powers(bus_f, net_cfg, household_kw, fed_in * wind_kw, fed_in * pv_kw, base_p,
                         base_q)  # fmt: skip
        add_station_powers(station_f, net_cfg, station_kw, link_down, 0.0, 1.0, base_p, base_q)
        low, high = scale_interval(bus_parent, branch_f, net_cfg, base_p, base_q, step_p, step_q,
                                   low, high, work[4 * n :])  # fmt: skip
    return largest_in_unit(low, high)


@kernel
def _community_flow(
    bus_parent, branch_f, bus_f, net_cfg, station_f, household_kw, wind_kw, pv_kw, station_kw,
    link_down, work,
):  # fmt: skip
    """The power flow of the community with every station at ``station_kw``: views of
    ``work`` ``(bus_v_pu, branch_p_kw, branch_q_kvar, branch_loading_pct)``."""
    n = bus_parent.shape[0]
    p, q = work[:n], work[n : 2 * n]
    v, branch_p, branch_q, loading = (
        work[2 * n : 3 * n], work[3 * n : 4 * n], work[4 * n : 5 * n], work[5 * n : 6 * n],
    )  # fmt: skip
    community_powers(bus_f, net_cfg, household_kw, wind_kw, pv_kw, p, q)
    add_station_powers(station_f, net_cfg, station_kw, link_down, 1.0, 1.0, p, q)
    power_flow(bus_parent, branch_f, net_cfg, p, q, v, branch_p, branch_q, loading)
    return v, branch_p, branch_q, loading


@kernel
def book_network(
    bus_parent, branch_f, bus_f, net_cfg, station_f, household_kw, wind_kw, pv_kw, station_kw,
    link_down, work,
):  # fmt: skip
    """The tick's power flow (the powers applied) and its KPIs, :func:`network_kpis`.

    Args:
        wind_kw, pv_kw: the renewable output fed in (what the market did not curtail), kW.
        station_kw: net import of each station, kW, shape (S,).
        link_down: > 0 where a station's link is down, shape (S,) (the flow takes every
            station as it is; the argument keeps one compiled station adder).
        work: float64 work space, shape (>= :func:`workspace_size`,); overwritten.
    """
    v, branch_p, _, loading = _community_flow(
        bus_parent, branch_f, bus_f, net_cfg, station_f, household_kw, wind_kw, pv_kw, station_kw,
        link_down, work,
    )  # fmt: skip
    return network_kpis(net_cfg, v, branch_p, loading)


@kernel
def station_grid_state(
    bus_parent, branch_f, bus_f, net_cfg, station_f, household_kw, wind_kw, pv_kw, station_kw,
    link_down, voltage_pu, headroom_kva, work,
):  # fmt: skip
    """The observation's power flow (module docstring): the voltage at each station's bus and
    the least headroom of the branches between it and the transformer
    (:func:`upstream_headroom_kva`), into ``voltage_pu`` and ``headroom_kva`` (shape (S,)).
    """
    v, branch_p, branch_q, _ = _community_flow(
        bus_parent, branch_f, bus_f, net_cfg, station_f, household_kw, wind_kw, pv_kw, station_kw,
        link_down, work,
    )  # fmt: skip
    for s in range(station_kw.shape[0]):
        b = int(station_f[ST_BUS, s])
        voltage_pu[s] = v[b]
        headroom_kva[s] = upstream_headroom_kva(bus_parent, branch_f, v, branch_p, branch_q, b)
