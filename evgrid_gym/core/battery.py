"""Battery kernels: the two-stage CC-CV charging curve, integrated exactly over one tick.

Model (ACN-Sim ``Linear2StageBattery``; Lee, Li and Low, "ACN-Sim: An Open-Source Simulator for
Data-Driven Electric Vehicle Charging Research", IEEE SmartGridComm 2019): the grid-side power
limit of a battery at state of charge ``soc`` is

    p_max(soc) = P                                 for soc <= transition_soc   (CC stage)
    p_max(soc) = P * (1 - soc) / (1 - transition_soc)   for soc >  transition_soc   (CV stage)

and the battery gains ``efficiency * p`` kW. Charging at the limit, the CV stage is the linear
ODE ``d soc / dt = -k (soc - 1)`` with ``k = efficiency * P / (capacity * (1 - transition_soc))``,
so its exact solution is an exponential approach to full: no Euler sub-steps are needed for any
``dt_h``.

Two readings of a connector's power (``battery.pilot`` in the scenario):

- ``average`` (default): the power is the *average* grid power over the tick; every average
  between zero and the exact maximum (:func:`max_charge_energy_kwh`) is attainable, since the
  charger may shape the power within the tick. This is what the optimum's LP models.
- ``acn``: the power is a *pilot* the charger holds until the curve binds, as ACN-Sim's
  ``Linear2StageBattery`` does (:func:`pilot_charge_energy_kwh`); below full pilot the
  battery then gains less than the average rule would give it.
"""

import math

from evgrid_gym.core.jit import kernel


@kernel
def pilot_charge_energy_kwh(
    soc, capacity_kwh, pilot_kw, max_power_kw, efficiency, transition_soc, dt_h
):
    """Battery-side energy a battery gains in ``dt_h`` hours under a constant pilot.

    The charger holds the grid-side power at ``pilot_kw`` (clipped to ``[0, P]``) until the
    curve's limit ``P (1 - soc) / (1 - transition_soc)`` falls to it, at the pilot's own
    transition soc ``1 - (pilot / P) (1 - transition_soc)``, and follows the curve from
    there: the exponential approach of the CV stage, with the same rate ``k`` as at full
    power. This is ACN-Sim's ``Linear2StageBattery._charge`` (acnportal 0.3, continuous
    charging, no noise) with an efficiency; ``pilot_kw = P`` gives
    :func:`max_charge_energy_kwh`.

    Args:
        soc: state of charge at the start of the tick, 0..1.
        capacity_kwh: battery capacity, kWh (> 0).
        pilot_kw: grid-side pilot, kW (<= 0: no charging; above ``P``: ``P``).
        max_power_kw: grid-side power limit ``P`` of the CC stage, kW (>= 0).
        efficiency: grid -> battery efficiency, (0, 1].
        transition_soc: soc where the CV taper starts, (0, 1]; 1 means pure constant power.
        dt_h: tick length, h (> 0).

    Returns:
        Energy gained by the battery, kWh: ``0 <= gain <= (1 - soc) * capacity_kwh``.
    """
    pilot_kw = min(pilot_kw, max_power_kw)
    if soc >= 1.0 or pilot_kw <= 0.0:
        return 0.0
    rate_kw = efficiency * pilot_kw
    headroom_kwh = (1.0 - soc) * capacity_kwh
    if transition_soc >= 1.0:
        return min(rate_kw * dt_h, headroom_kwh)
    pilot_transition_soc = 1.0 - pilot_kw / max_power_kw * (1.0 - transition_soc)
    cc_kwh = max(pilot_transition_soc - soc, 0.0) * capacity_kwh
    cc_h = cc_kwh / rate_kw
    if cc_h >= dt_h:
        return rate_kw * dt_h
    k_per_h = efficiency * max_power_kw / (capacity_kwh * (1.0 - transition_soc))
    cv_headroom_kwh = headroom_kwh - cc_kwh
    return cc_kwh - cv_headroom_kwh * math.expm1(-k_per_h * (dt_h - cc_h))


@kernel
def max_charge_energy_kwh(soc, capacity_kwh, max_power_kw, efficiency, transition_soc, dt_h):
    """Battery-side energy a battery gains in ``dt_h`` hours charging at the CC-CV limit
    (:func:`pilot_charge_energy_kwh` at full pilot).

    Returns:
        Energy gained by the battery, kWh: ``0 <= gain <= (1 - soc) * capacity_kwh``.
    """
    return pilot_charge_energy_kwh(
        soc, capacity_kwh, max_power_kw, max_power_kw, efficiency, transition_soc, dt_h
    )


@kernel
def full_power_start_soc(goal_soc, capacity_kwh, max_power_kw, efficiency, transition_soc, hours):
    """The soc from which charging at the CC-CV limit reaches ``goal_soc`` in exactly ``hours``
    (the inverse of :func:`max_charge_energy_kwh` over ``hours``): the latest soc a battery
    can be at and still reach its goal.

    Backwards from the goal: in the CV stage the empty part ``1 - soc`` grows by
    ``exp(t / tau)`` with ``tau = (1 - transition_soc) capacity / (efficiency P)``, in the CC
    stage the soc falls by ``efficiency P / capacity`` per hour.

    Returns:
        The start soc; below 0 when the goal is within reach from empty, +inf when full power
        never reaches it (``goal_soc >= 1`` with a taper), ``goal_soc`` when the battery cannot
        charge (``max_power_kw <= 0``) or ``hours <= 0``.
    """
    rate_kw = efficiency * max_power_kw
    if hours <= 0.0 or rate_kw <= 0.0:
        return goal_soc
    if goal_soc <= transition_soc or transition_soc >= 1.0:
        return goal_soc - hours * rate_kw / capacity_kwh
    if goal_soc >= 1.0:
        return math.inf
    tau_h = (1.0 - transition_soc) * capacity_kwh / rate_kw
    cv_h = tau_h * math.log((1.0 - transition_soc) / (1.0 - goal_soc))
    if hours <= cv_h:
        return 1.0 - (1.0 - goal_soc) * math.exp(hours / tau_h)
    return transition_soc - (hours - cv_h) * rate_kw / capacity_kwh


@kernel
def max_discharge_energy_kwh(soc, capacity_kwh, max_power_kw, efficiency, soc_min, dt_h):
    """Battery-side energy a battery can give up in ``dt_h`` hours (V2G or BESS discharge).

    Discharging is constant power (no taper) down to ``soc_min``; the grid receives
    ``efficiency`` times what the battery loses.

    Returns:
        Energy lost by the battery, kWh: ``0 <= loss <= max(soc - soc_min, 0) * capacity_kwh``.
    """
    if max_power_kw <= 0.0 or soc <= soc_min:
        return 0.0
    return min(max_power_kw * dt_h / efficiency, (soc - soc_min) * capacity_kwh)


@kernel
def power_limits_kw(
    soc,
    capacity_kwh,
    soc_target,
    max_charge_kw,
    max_discharge_kw,
    efficiency,
    transition_soc,
    soc_min,
    dt_h,
):
    """Range of average grid-side power a battery can take this tick.

    Charging stops at ``soc_target`` (the driver's target, or ``soc_max`` for a BESS);
    discharging stops at ``soc_min``.

    Returns:
        ``(low_kw, high_kw)`` with ``low_kw <= 0 <= high_kw``.
    """
    gain_kwh = max_charge_energy_kwh(
        soc, capacity_kwh, max_charge_kw, efficiency, transition_soc, dt_h
    )
    gain_kwh = min(gain_kwh, max(soc_target - soc, 0.0) * capacity_kwh)
    loss_kwh = max_discharge_energy_kwh(
        soc, capacity_kwh, max_discharge_kw, efficiency, soc_min, dt_h
    )
    return -loss_kwh * efficiency / dt_h, gain_kwh / (efficiency * dt_h)


@kernel
def battery_energy_kwh(power_kw, efficiency, dt_h):
    """Battery-side energy change of a tick at average grid power ``power_kw``.

    Returns:
        ``(delta_kwh, losses_kwh)``: ``delta = efficiency * p * dt`` when charging,
        ``p * dt / efficiency`` (negative) when discharging; losses are always >= 0.
    """
    grid_kwh = power_kw * dt_h
    if grid_kwh >= 0.0:
        delta_kwh = efficiency * grid_kwh
        return delta_kwh, grid_kwh - delta_kwh
    delta_kwh = grid_kwh / efficiency
    return delta_kwh, grid_kwh - delta_kwh
