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

Hard limits (:func:`largest_scale`): the stations' powers are scaled by one common factor
``alpha``, the largest in [0, 1] that keeps every bus voltage (buses 1..) within
``[NET_V_MIN_PU, NET_V_MAX_PU]`` and every branch's current within its rating; 0 when no
``alpha`` in [0, 1] does (the other loads alone break a limit). Along ``alpha`` each voltage
limit is linear and each current limit a convex quadratic, so every limit holds on an interval
of ``alpha``; the answer is the upper end of their intersection, in closed form.

Arrays follow :mod:`evgrid_gym.core.layout` (section "network"); every kernel is
allocation-free (``largest_scale`` takes a work space of :func:`workspace_size`).
"""

import math

from evgrid_gym.core.jit import kernel
from evgrid_gym.core.layout import (
    BR_R_OHM,
    BR_RATED_KVA,
    BR_X_OHM,
    NET_SLACK_PU,
    NET_V_MAX_PU,
    NET_V_MIN_PU,
    NET_VN_KV,
)


def workspace_size(n_buses):
    """Length of the float64 work space of :func:`largest_scale`."""
    return 6 * n_buses


@kernel
def bus_power(element_kw, element_bus, element_tan_phi, bus_p_kw, bus_q_kvar):
    """Per-bus active and reactive power drawn by the elements on each bus.

    Args:
        element_kw: power of each element (household group, turbine, station), kW, shape (E,);
            positive = consumption.
        element_bus: bus index of each element, int64, shape (E,).
        element_tan_phi: ``tan(acos(pf))`` of each element, shape (E,): ``q = p tan_phi``.
        bus_p_kw, bus_q_kvar: output, shape (B,).
    """
    bus_p_kw[:] = 0.0
    bus_q_kvar[:] = 0.0
    for e in range(element_kw.shape[0]):
        b = element_bus[e]
        bus_p_kw[b] += element_kw[e]
        bus_q_kvar[b] += element_kw[e] * element_tan_phi[e]


@kernel
def branch_flows(bus_parent, bus_p_kw, bus_q_kvar, branch_p_kw, branch_q_kvar):
    """Lossless flows: each branch carries what its downstream buses draw.

    Args:
        bus_parent: upstream bus of each bus, int64, shape (B,).
        bus_p_kw, bus_q_kvar: power drawn per bus, kW and kvar, shape (B,).
        branch_p_kw, branch_q_kvar: output, shape (B,): branch j >= 1 flows from
            ``bus_parent[j]`` to ``j``; column 0 is the total the slack supplies.
    """
    branch_p_kw[:] = bus_p_kw
    branch_q_kvar[:] = bus_q_kvar
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
def network_kpis(bus_v_pu, branch_loading_pct):
    """``(v_min_pu, v_max_pu, line_loading_pct, transformer_loading_pct)`` of a power flow:
    the extreme voltages over buses 1.. (the lv side), the most loaded line (0 without
    lines) and the transformer (branch 1)."""
    v_min = bus_v_pu[1]
    v_max = bus_v_pu[1]
    for j in range(2, bus_v_pu.shape[0]):
        v_min = min(v_min, bus_v_pu[j])
        v_max = max(v_max, bus_v_pu[j])
    line_max = 0.0
    for j in range(2, branch_loading_pct.shape[0]):
        line_max = max(line_max, branch_loading_pct[j])
    return v_min, v_max, line_max, branch_loading_pct[1]


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
def largest_scale(
    bus_parent, branch_f, net_cfg, base_p_kw, base_q_kvar, step_p_kw, step_q_kvar, work
):  # fmt: skip
    """Largest ``alpha`` in [0, 1] with every limit met at ``base + alpha * step``.

    The hard-limit rule of the module docstring: ``base`` is what the buses draw without the
    stations (households, turbines), ``step`` what the stations draw; the stations' powers
    are to be multiplied by the answer. Limits: voltages of buses 1.. within
    ``[NET_V_MIN_PU, NET_V_MAX_PU]`` and the current of every branch (both ends) within its
    rating, all under LinDistFlow.

    Args:
        bus_parent, branch_f, net_cfg: the network.
        base_p_kw, base_q_kvar, step_p_kw, step_q_kvar: per-bus powers, shape (B,).
        work: float64 work space, shape (>= ``workspace_size(B)``,); overwritten.

    Returns:
        ``alpha``; 0 when no ``alpha`` in [0, 1] meets every limit.
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
    low = -math.inf
    high = math.inf
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
    if low > high or high < 0.0 or low > 1.0:
        return 0.0
    return min(high, 1.0)
