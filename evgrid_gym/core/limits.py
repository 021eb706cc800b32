"""What each battery can take this tick: the range of average grid power of the EV on a
connector and of a station battery (:func:`~evgrid_gym.core.battery.power_limits_kw`), and
the power an EV draws under an ACN-Sim pilot. Read by the tick (requests and projection) and
by the observation (max power, headroom)."""

from evgrid_gym.core.battery import pilot_charge_energy_kwh, power_limits_kw
from evgrid_gym.core.jit import inlined
from evgrid_gym.core.layout import (
    CFG_DT_H,
    CFG_TRANSITION_SOC,
    CFG_V2G_SOC_MIN,
    CN_BATTERY_KWH,
    CN_MAX_KW,
    CN_MAX_V2G_KW,
    CN_OCCUPIED,
    CN_SOC,
    CN_SOC_TARGET,
    ST_BESS_EFFICIENCY,
    ST_BESS_KW,
    ST_BESS_KWH,
    ST_BESS_SOC_MAX,
    ST_BESS_SOC_MIN,
)


@inlined
def connector_limits_kw(cfg, conn, c, efficiency):
    """``(low_kw, high_kw)``: average grid power the EV on connector ``c`` (behind a charger
    of ``efficiency``) can take this tick (0, 0 when it is free).

    The helpers here take the arrays they read, not the ``Static`` group: they run per
    connector and tick, where reading a group's fields costs reference counting."""
    if conn[CN_OCCUPIED, c] == 0.0:
        return 0.0, 0.0
    return power_limits_kw(
        conn[CN_SOC, c],
        conn[CN_BATTERY_KWH, c],
        conn[CN_SOC_TARGET, c],
        conn[CN_MAX_KW, c],
        conn[CN_MAX_V2G_KW, c],
        efficiency,
        cfg[CFG_TRANSITION_SOC],
        cfg[CFG_V2G_SOC_MIN],
        cfg[CFG_DT_H],
    )


@inlined
def bess_limits_kw(cfg, station_f, bess_soc, s):
    """``(low_kw, high_kw)`` of station ``s``'s BESS: constant power between its soc limits."""
    if station_f[ST_BESS_KWH, s] <= 0.0:
        return 0.0, 0.0
    return power_limits_kw(
        bess_soc[s],
        station_f[ST_BESS_KWH, s],
        station_f[ST_BESS_SOC_MAX, s],
        station_f[ST_BESS_KW, s],
        station_f[ST_BESS_KW, s],
        station_f[ST_BESS_EFFICIENCY, s],
        1.0,
        station_f[ST_BESS_SOC_MIN, s],
        cfg[CFG_DT_H],
    )


@inlined
def pilot_power_kw(cfg, conn, c, efficiency, pilot_kw):
    """Average grid power the EV of connector ``c`` draws over the tick under the charging
    pilot ``pilot_kw`` (``CFG_ACN_PILOT``): the pilot held until the CC-CV curve binds, up to
    its target (:func:`~evgrid_gym.core.battery.pilot_charge_energy_kwh`). The projection
    then works on these draws: a pilot it cuts is one the EV draws less under."""
    if pilot_kw <= 0.0 or conn[CN_OCCUPIED, c] == 0.0:
        return pilot_kw
    dt_h = cfg[CFG_DT_H]
    gain_kwh = pilot_charge_energy_kwh(
        conn[CN_SOC, c], conn[CN_BATTERY_KWH, c], pilot_kw, conn[CN_MAX_KW, c], efficiency,
        cfg[CFG_TRANSITION_SOC], dt_h,
    )  # fmt: skip
    to_target_kwh = max(conn[CN_SOC_TARGET, c] - conn[CN_SOC, c], 0.0) * conn[CN_BATTERY_KWH, c]
    return min(gain_kwh, to_target_kwh) / (efficiency * dt_h)
