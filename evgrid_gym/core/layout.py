"""Field indices of the packed state arrays of the simulation core, and the KPI registry.

The core keeps its state in a handful of dense ``float64`` arrays whose first axis is a
*field* and whose last axis is the entity (connector, charger, station, EV or tick). Packing
keeps the Python -> numba call cheap (one unboxing per array, not per field) and gives every
array a natural leading env axis for the vector env (``(n_envs, n_fields, n_entities)``).

Units and signs (stated once, pandapower style): power in kW, energy in kWh, money in EUR,
prices in EUR/kWh, time in ticks of ``dt_h`` hours, ``soc`` is a 0..1 fraction. Positive
power is consumption (charging); negative power is generation (V2G, BESS discharge, export).

The KPI registry (:data:`KPIS`, the last section) is the one place a tick KPI is declared: one
``KPI_X = _kpi(name, unit, description, ...)`` line gives the kernels their index ``KPI_X`` (a
plain int, a compile-time constant to numba) and generates :data:`KPI_NAMES`, :data:`KPI`,
:data:`KPI_EPISODE_MAX`, :data:`REWARD_TERMS` (the keys ``reward.weights`` accepts),
:data:`OPTIMAL_REWARD_TERMS` (``baselines.optimal.SUPPORTED_KPIS``), the keys of ``info`` and
of the episode totals and the unit of the reward (:func:`evgrid_gym.kpis.reward_unit`).
Adding a KPI is that line plus the kernel line that books it (``kpi[KPI_X] += ...``); the
tests then ask for the same line in the pure-Python reference (``tests/reference.py``) and
the KPI's row in the README's table (``tests/test_kpis.py`` prints it). A reward term is a KPI
with ``reward="term"``; ``reward="optimal"`` once the optimal baseline carries its weight
(``baselines/optimal/reward.py``). Episode KPIs derived from several totals (ratios, renamed
headline figures) are declared in :mod:`evgrid_gym.kpis`.
"""

from typing import NamedTuple

# --- cfg: scalar scenario parameters, shape (N_CFG,) ---------------------------------------
CFG_DT_H = 0  # tick length, h
CFG_FEEDER_KW = 1  # feeder (transformer) limit on households + stations, kW
CFG_TRANSITION_SOC = 2  # CC-CV transition state of charge, (0, 1]
CFG_V2G_SOC_MIN = 3  # V2G never discharges an EV below this soc
CFG_SOFT_LIMITS = 4  # 1.0: station/feeder limits penalised, 0.0: projected (hard)
CFG_UNIFORM_PRICE = 5  # 1.0: uniform-price market, 0.0: pay-as-bid
CFG_HOUSEHOLD_BID = 6  # household bid, EUR/kWh (seed 000: 1.0)
CFG_EXPORT = 7  # 1.0: unsold own energy exported at the feed-in price, 0.0: curtailed
CFG_UNMET_PENALTY = 8  # EUR per kWh not delivered by departure
CFG_OVERLOAD_PENALTY = 9  # EUR per kWh above a station or feeder limit (soft mode)
CFG_N_TICKS = 10  # episode length, ticks
CFG_FORECAST_TICKS = 11  # ticks of price/renewable forecast in the observation
CFG_BESS_ACTION = 12  # 1.0: the action has one BESS entry per station
CFG_TICKS_PER_DAY = 13  # 24 / dt_h
CFG_RESERVATION = 14  # 1.0: EVs reserve connectors by contract net (core.contract_net)
CFG_GRACE_TICKS = 15  # a reservation is released this many ticks after the planned arrival
CFG_UTILISATION_MARKUP = 16  # reservation price rise from an idle to a full station, EUR/kWh
CFG_MIN_ENERGY_FRACTION = 17  # an offer below this fraction of the EV's need is unacceptable
CFG_DISTANCE_WEIGHT = 18  # offer score per km of distance (subtracted)
CFG_PRICE_WEIGHT = 19  # offer score per EUR/kWh of price (subtracted)
CFG_ENERGY_WEIGHT = 20  # offer score per kWh offered (added)
CFG_RESERVATION_HOURS = 21  # hourly buckets of upcoming reservations in the observation
CFG_OUTAGE_OBSERVATION = 22  # 1.0: the observation shows the components that are down
CFG_ACN_PILOT = 23  # 1.0: a connector's power is a pilot held until the CC-CV curve binds
CFG_NETWORK_PENALTY = 24  # EUR per kWh above the network's branch ratings (core.network)
CFG_VOLTAGE_PENALTY = 25  # EUR per pu h of voltage outside the network's band (core.network)
CFG_V2G_DEGRADATION = 26  # EUR per battery kWh V2G takes out of an EV (and its recharge)
N_CFG = 27

# --- charger_f: per-charger parameters, shape (N_CHARGER_FIELDS, n_chargers) -----------------
CH_MAX_KW = 0  # power shared by the charger's connectors, kW
CH_EFFICIENCY = 1  # grid -> battery (and battery -> grid) efficiency, (0, 1]
CH_IS_DC = 2  # 1.0 for DC chargers (the EV's DC limit applies), 0.0 for AC
CH_V2G = 3  # 1.0 if the charger can discharge EVs
CH_FALLBACK_KW = 4  # per-connector charging power while its station's link is down, kW
N_CHARGER_FIELDS = 5

# --- station_f: per-station parameters, shape (N_STATION_FIELDS, n_stations) -----------------
ST_GRID_KW = 0  # grid connection capacity, kW (import and export)
ST_BESS_KWH = 1  # station battery capacity, kWh (0 = no BESS)
ST_BESS_KW = 2  # station battery power limit, kW
ST_BESS_EFFICIENCY = 3  # one-way efficiency, (0, 1]
ST_BESS_SOC_MIN = 4
ST_BESS_SOC_MAX = 5
ST_BESS_SOC_INIT = 6  # soc at reset
ST_X_KM = 7  # location, km
ST_Y_KM = 8
ST_RESERVATION_PRICE = 9  # base price of a reservation (station idle), EUR/kWh
ST_BUS = 10  # the network bus the station is connected to (0 without a network)
ST_BESS_DEGRADATION = 11  # EUR per battery kWh into or out of the BESS (its throughput)
N_STATION_FIELDS = 12

# --- exo: exogenous inputs per tick, shape (N_EXO_FIELDS, n_ticks + forecast_ticks) -----------
EXO_RENEWABLE_KW = 0  # own wind (+ PV) output, kW
EXO_HOUSEHOLD_KW = 1  # household load, kW
EXO_PRICE = 2  # external supplier price, EUR/kWh
EXO_FEED_IN = 3  # export price, EUR/kWh
EXO_WIND_KW = 4  # the wind part of EXO_RENEWABLE_KW, kW (turbine outages remove a share)
EXO_STORAGE_VALUE = 5  # worth of a kWh a BESS gives back to the grid, EUR/kWh (episode constant)
N_EXO_FIELDS = 6

# --- ev: the episode's EV sessions sorted by arrival, shape (N_EV_FIELDS, n_evs) -------------
EV_ARRIVAL = 0  # arrival tick
EV_DEPARTURE = 1  # departure tick (> arrival)
EV_STATION = 2  # station index, -1 = any station
EV_BATTERY_KWH = 3
EV_SOC_ARRIVAL = 4
EV_SOC_TARGET = 5  # the EV stops charging at this soc
EV_MAX_AC_KW = 6
EV_MAX_DC_KW = 7
EV_MAX_V2G_KW = 8  # 0 = not V2G capable
EV_TARIFF = 9  # EUR/kWh the driver pays (and is paid for V2G energy)
EV_CONNECTOR = 10  # the connector the EV asks for (a replayed trace), -1 = none
EV_REQUEST = 11  # tick the EV broadcasts its reservation request, +inf = never
EV_PLANNED_ARRIVAL = 12  # arrival tick the request announces (EV_ARRIVAL is when it comes)
EV_X_KM = 13  # origin of the request, km
EV_Y_KM = 14
EV_MAX_PRICE = 15  # the highest reservation price the driver accepts, EUR/kWh
EV_USER = 16  # the user the session belongs to (archetype populations), -1 = anonymous
N_EV_FIELDS = 17

# --- res: reservation state per EV, shape (N_RES_FIELDS, n_evs) ------------------------------
RS_STATUS = 0  # one of the RES_* statuses below
RS_CONNECTOR = 1  # reserved connector, -1 = none
RS_PRICE = 2  # agreed price, EUR/kWh (the EV's tariff when it is served)
RS_ENERGY_KWH = 3  # energy offered by departure, kWh
N_RES_FIELDS = 4
RES_NONE = 0.0  # no request (yet)
RES_PENDING = 1.0  # requested, no station answered yet; retried every tick until arrival
RES_CONFIRMED = 2.0  # holds RS_CONNECTOR from the planned arrival to departure
RES_SERVED = 3.0  # the EV arrived and plugged into its reserved connector
RES_EXPIRED = 4.0  # the EV did not come within the grace period (a no-show)
RES_CANCELLED = 5.0  # its charger failed and no other station could take it over
RES_REJECTED = 6.0  # no acceptable offer (or no station answered before arrival)

# --- outage: components down per tick, shape (n_ticks, K + S + 1), tick-major ----------------
# columns [0, K): charger k down (1.0) or up (0.0); [K, K + S): station s's link down; the
# last: the fraction of wind capacity down (turbine outages). Tick-major because a tick reads
# every component of one tick: one or two cache lines instead of one per component.

# --- conn: per-connector state, shape (N_CONN_FIELDS, n_connectors) --------------------------
CN_OCCUPIED = 0  # 1.0 when an EV is plugged in
CN_EV = 1  # index of the plugged EV in ``ev`` (-1 when free)
CN_SOC = 2
CN_BATTERY_KWH = 3
CN_SOC_TARGET = 4
CN_DEPARTURE = 5  # departure tick
CN_MAX_KW = 6  # charge limit of EV and charger together, kW
CN_MAX_V2G_KW = 7  # discharge limit of EV and charger together, kW (0 = none)
CN_REQUESTED_KWH = 8  # battery energy requested at arrival, kWh
CN_DELIVERED_KWH = 9  # battery energy delivered so far (net of V2G), kWh
CN_TARIFF = 10
CN_POWER_KW = 11  # grid-side power the connector drew in the last tick (kept at departure), kW
CN_OUTAGE_KWH = 12  # battery energy the EV could have taken while its charger was down, kWh
N_CONN_FIELDS = 13

# --- clock: integer state, shape (N_CLOCK,) --------------------------------------------------
CLK_TICK = 0  # current tick
CLK_NEXT_EV = 1  # index of the next EV to arrive
N_CLOCK = 2

# --- station_out: per-station results of the last tick, shape (N_STATION_OUT, n_stations) ----
SO_NET_KW = 0  # net import (+) / export (-) at the grid connection, kW
SO_OWN_KWH = 1  # own renewable energy bought in the market, kWh
SO_EXTERNAL_KWH = 2  # energy bought from the external supplier, kWh
SO_MARKET_PAYMENT_EUR = 3  # paid to the community producers for own energy (a transfer)
SO_BID_EUR_PER_KWH = 4  # the station's first-unit bid, 1 - fill
SO_BESS_KW = 5  # BESS power applied, kW (+ charge)
# the station's own books, of which the KPIs of the same name are the community's totals:
SO_REVENUE_EUR = 6  # tariff its drivers pay per kWh into their batteries (paid back for V2G)
SO_ENERGY_COST_EUR = 7  # its external energy (SO_EXTERNAL_KWH) at the supplier price
SO_STORAGE_VALUE_EUR = 8  # change of the worth of the energy stored in its BESS
SO_UNMET_KWH = 9  # unmet energy of the EVs that left its connectors
SO_UNMET_PENALTY_EUR = 10  # SO_UNMET_KWH at reward.unmet_penalty_eur_per_kwh
SO_OVERLOAD_KWH = 11  # energy above its grid capacity (soft limits; the feeder's is not its)
SO_OVERLOAD_PENALTY_EUR = 12  # SO_OVERLOAD_KWH at reward.overload_penalty_eur_per_kwh
SO_DEGRADATION_EUR = 13  # wear of V2G at its connectors and of its BESS (degradation)
SO_PROFIT_EUR = 14  # revenue - market payment - energy cost + storage value - wear - penalties
N_STATION_OUT = 15

# --- network: a radial distribution network (evgrid_gym.grid, kernels in core.network) -------
# B buses in topological order (B = 0: no network, the feeder limit alone): bus 0 is the
# transformer's hv side (the slack, the upstream grid at NET_SLACK_PU), bus 1 its lv side (the
# busbar), and every bus j >= 1 comes after its upstream bus bus_parent[j] (int64, shape (B,),
# bus_parent[0] = -1). Bus j >= 1 is fed by exactly one branch, numbered j like its downstream
# bus: branch 1 is the transformer, branches 2.. are lines; column 0 of the per-branch arrays
# stands for the slack's supply. Impedances in ohm at the lv nominal voltage (the
# transformer's referred to its lv side).
# --- branch_f: per-branch parameters, shape (N_BRANCH_FIELDS, B), column 0 unused ---------
BR_R_OHM = 0  # resistance, ohm
BR_X_OHM = 1  # reactance, ohm
BR_RATED_KVA = 2  # apparent power at nominal voltage and rated current (sqrt(3) Vn I), kVA
N_BRANCH_FIELDS = 3
# --- bus_f: the community's loads and sources on each bus, shape (N_BUS_FIELDS, B) ----------
BUS_HOUSEHOLD_SHARE = 0  # share of EXO_HOUSEHOLD_KW drawn at the bus (sums to 1 over buses)
BUS_WIND_SHARE = 1  # share of the wind output (EXO_WIND_KW) fed in at the bus
BUS_PV_SHARE = 2  # share of the PV output (EXO_RENEWABLE_KW - EXO_WIND_KW) fed in at the bus
N_BUS_FIELDS = 3
# --- net_cfg: scalar network parameters, shape (N_NET_CFG,) -------------------------------
NET_VN_KV = 0  # nominal line-to-line voltage of the lines, kV
NET_SLACK_PU = 1  # voltage at bus 0, pu
NET_V_MIN_PU = 2  # voltage limits of buses 1.., pu
NET_V_MAX_PU = 3
NET_HOUSEHOLD_TAN_PHI = 4  # households' q / p (tan(acos(power factor)))
NET_STATION_TAN_PHI = 5  # stations' q / p at their grid connection
N_NET_CFG = 6

# --- kpi: one tick's KPIs and reward terms, shape (N_KPI,): the KPI registry -----------------


class Kpi(NamedTuple):
    """One tick KPI: a slot of the ``kpi`` array and everything said about it.

    Attributes:
        name: its key in ``info`` and ``reward.weights``; ``total_`` + name in the episode
            KPIs (:func:`evgrid_gym.kpis.episode_kpis`).
        unit: one of :data:`KPI_UNITS`.
        description: what it books, one line (the README's KPI table).
        episode: how an episode total aggregates the ticks (:data:`EPISODE_AGGREGATES`):
            ``"sum"``; ``"max"``, the largest tick value (:data:`KPI_EPISODE_MAX`); ``"min"``,
            the smallest (:data:`KPI_EPISODE_MIN`; +inf until the first tick is stepped).
        reward: its role in the reward (:data:`REWARD_ROLES`): ``""``, none; ``"term"``,
            ``reward.weights`` may weight it (:data:`REWARD_TERMS`); ``"optimal"``, a reward
            term whose weight the optimal baseline carries as well
            (:data:`OPTIMAL_REWARD_TERMS`).
    """

    name: str
    unit: str
    description: str
    episode: str = "sum"
    reward: str = ""


KPI_UNITS = ("kWh", "kW", "EUR", "EUR/kWh", "count", "pu", "pu h", "%")
EPISODE_AGGREGATES = ("sum", "max", "min")
REWARD_ROLES = ("", "term", "optimal")
_REGISTERED: list[Kpi] = []


def _kpi(name: str, unit: str, description: str, episode: str = "sum", reward: str = "") -> int:
    """Registers a tick KPI (the fields of :class:`Kpi`) and returns its index in ``kpi``.

    Raises:
        ValueError: a name given twice, or a unit, aggregation or reward role not allowed.
    """
    kpi = Kpi(name, unit, description, episode, reward)
    if name in (k.name for k in _REGISTERED):
        raise ValueError(f"KPI {name}: registered twice")
    if unit not in KPI_UNITS or episode not in EPISODE_AGGREGATES or reward not in REWARD_ROLES:
        raise ValueError(
            f"KPI {name}: got unit {unit!r}, episode {episode!r}, reward {reward!r}; must be "
            f"one of {KPI_UNITS}, {EPISODE_AGGREGATES} and {REWARD_ROLES}"
        )
    _REGISTERED.append(kpi)
    return len(_REGISTERED) - 1


KPI_EV_ENERGY = _kpi(
    "ev_energy_kwh", "kWh", "net battery energy into EVs (charge - V2G discharge)", reward="optimal"
)
KPI_EV_CHARGE = _kpi("ev_charge_grid_kwh", "kWh", "grid-side energy drawn by EV charging")
KPI_EV_DISCHARGE = _kpi("ev_discharge_grid_kwh", "kWh", "grid-side energy fed back by V2G")
KPI_EV_LOSSES = _kpi("ev_losses_kwh", "kWh", "conversion losses of EV charging and V2G")
KPI_BESS_CHARGE = _kpi("bess_charge_grid_kwh", "kWh", "grid-side energy into the BESS")
KPI_BESS_DISCHARGE = _kpi("bess_discharge_grid_kwh", "kWh", "grid-side energy out of the BESS")
KPI_BESS_LOSSES = _kpi("bess_losses_kwh", "kWh", "conversion losses of the BESS")
KPI_HOUSEHOLD = _kpi("household_kwh", "kWh", "household consumption (always served)")
KPI_RENEWABLE = _kpi("renewable_kwh", "kWh", "own production offered to the market")
KPI_OWN_USED = _kpi(  # the optimum cannot: it depends on the sign of each station's net import
    "own_energy_used_kwh", "kWh", "own production consumed in the community", reward="term"
)
KPI_EXTERNAL = _kpi(
    "external_energy_kwh", "kWh", "bought from the external supplier", reward="optimal"
)
KPI_EXPORT = _kpi("export_kwh", "kWh", "unused own production exported")
KPI_CURTAILED = _kpi("curtailed_kwh", "kWh", "unused own production curtailed (no export)")
KPI_IMPORT_KW = _kpi(
    "import_kw", "kW", "external import power; the episode value is the peak", episode="max"
)
KPI_OVERLOAD = _kpi(
    "overload_kwh", "kWh", "energy above station or feeder limits", reward="optimal"
)
KPI_ARRIVALS = _kpi("arrivals", "count", "EVs that arrived")
KPI_REJECTED = _kpi("rejected_arrivals", "count", "arrivals that found no free connector")
KPI_DEPARTURES = _kpi("departures", "count", "EVs that departed")
KPI_REQUESTED = _kpi("requested_kwh", "kWh", "requested battery energy of the EVs that departed")
KPI_DELIVERED = _kpi("delivered_kwh", "kWh", "delivered battery energy of the EVs that departed")
KPI_UNMET = _kpi(
    "unmet_energy_kwh", "kWh", "requested - delivered, summed over departures", reward="optimal"
)
KPI_REVENUE = _kpi(
    "revenue_eur",
    "EUR",
    "EV tariff revenue, per kWh into (and out of) the EV batteries",
    reward="optimal",
)
KPI_ENERGY_COST = _kpi(
    "energy_cost_eur", "EUR", "external energy at the supplier price", reward="optimal"
)
KPI_EXPORT_REVENUE = _kpi(
    "export_revenue_eur", "EUR", "exported energy at the feed-in price", reward="optimal"
)
KPI_UNMET_PENALTY = _kpi(
    "unmet_penalty_eur", "EUR", "unmet energy at reward.unmet_penalty_eur_per_kwh", reward="optimal"
)
KPI_OVERLOAD_PENALTY = _kpi(
    "overload_penalty_eur",
    "EUR",
    "overload at reward.overload_penalty_eur_per_kwh",
    reward="optimal",
)
KPI_STORAGE_VALUE = _kpi(
    "storage_value_eur",
    "EUR",
    "change of the worth of the energy stored in the BESS",
    reward="optimal",
)
KPI_HOUSEHOLD_PAYMENT = _kpi(
    "household_payment_eur", "EUR", "households -> producers for own energy (transfer)"
)
KPI_STATION_PAYMENT = _kpi(
    "station_payment_eur", "EUR", "stations -> producers for own energy (transfer)"
)
KPI_CLEARING_PRICE = _kpi(
    "clearing_price_eur_per_kwh", "EUR/kWh", "lowest accepted bid for own energy", episode="max"
)
KPI_REQUESTS = _kpi("reservation_requests", "count", "requests broadcast (each EV at most once)")
KPI_CONFIRMED = _kpi("reservations_confirmed", "count", "reservations confirmed")
KPI_RES_REJECTED = _kpi(
    "reservations_rejected", "count", "no acceptable offer, or no station answered before arrival"
)
KPI_SERVED = _kpi("reservations_served", "count", "the EV plugged into its reserved connector")
KPI_NO_SHOWS = _kpi("no_shows", "count", "reservations released unused after the grace period")
KPI_CANCELLED = _kpi(
    "reservations_cancelled", "count", "charger down and no other offer acceptable"
)
KPI_MISSED_DEADLINES = _kpi(
    "missed_deadlines",
    "count",
    "station messages (bids and setpoints, offers) lost to link outages",
)
KPI_OUTAGE_UNMET = _kpi(
    "outage_unmet_kwh", "kWh", "unmet energy of departed EVs that their charger's outages explain"
)
KPI_WIND_OUTAGE = _kpi("wind_outage_kwh", "kWh", "wind production lost to turbine outages")
# the network (grid.network; all 0 without one): LinDistFlow of the tick (core.network)
KPI_VOLTAGE_MIN = _kpi(
    "voltage_min_pu",
    "pu",
    "lowest bus voltage of the lv side (episode: the lowest tick)",
    episode="min",
)
KPI_VOLTAGE_MAX = _kpi(
    "voltage_max_pu",
    "pu",
    "highest bus voltage of the lv side (episode: the highest tick)",
    episode="max",
)
KPI_LINE_LOADING = _kpi(
    "line_loading_pct",
    "%",
    "current of the most loaded line, % of its ampacity",
    episode="max",
)
KPI_TRANSFORMER_LOADING = _kpi(
    "transformer_loading_pct",
    "%",
    "current of the transformer, % of its rating",
    episode="max",
)
KPI_NETWORK_VIOLATION = _kpi(
    "network_violation_kwh",
    "kWh",
    "active energy above the ratings of lines and transformer, summed over branches",
    reward="optimal",
)
KPI_VOLTAGE_VIOLATION = _kpi(
    "voltage_violation_pu_h",
    "pu h",
    "deviation of the worst bus outside the voltage band, times dt_h",
    reward="optimal",
)
KPI_NETWORK_PENALTY = _kpi(
    "network_penalty_eur",
    "EUR",
    "network violations at reward.network_penalty_eur_per_kwh and voltage_penalty_eur_per_pu_h",
    reward="optimal",
)
# battery degradation (0 unless `degradation` is on): evgrid_gym.config.DegradationConfig
KPI_DEGRADATION = _kpi(
    "degradation_cost_eur",
    "EUR",
    "battery wear of V2G and the BESS, per kWh of throughput (degradation)",
    reward="optimal",
)

KPIS: tuple[Kpi, ...] = tuple(_REGISTERED)
"""The registry, in ``kpi`` array order."""
KPI_NAMES = tuple(k.name for k in KPIS)
KPI = {name: i for i, name in enumerate(KPI_NAMES)}
N_KPI = len(KPIS)
KPI_EPISODE_MAX = tuple(i for i, k in enumerate(KPIS) if k.episode == "max")
"""Episode totals are sums of the tick values, except these, which are maxima ..."""
KPI_EPISODE_MIN = tuple(i for i, k in enumerate(KPIS) if k.episode == "min")
"""... and these, which are minima."""
REWARD_TERMS = tuple(k.name for k in KPIS if k.reward)
"""The KPIs ``reward.weights`` may weight."""
OPTIMAL_REWARD_TERMS = tuple(k.name for k in KPIS if k.reward == "optimal")
"""The reward terms the optimal baseline can carry."""
