"""Field indices of the packed state arrays of the simulation core.

The core keeps its state in a handful of dense ``float64`` arrays whose first axis is a
*field* and whose last axis is the entity (connector, charger, station, EV or tick). Packing
keeps the Python -> numba call cheap (one unboxing per array, not per field) and gives every
array a natural leading env axis for the vector env (``(n_envs, n_fields, n_entities)``).

Units and signs (stated once, pandapower style): power in kW, energy in kWh, money in EUR,
prices in EUR/kWh, time in ticks of ``dt_h`` hours, ``soc`` is a 0..1 fraction. Positive
power is consumption (charging); negative power is generation (V2G, BESS discharge, export).
"""

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
N_CFG = 14

# --- charger_f: per-charger parameters, shape (N_CHARGER_FIELDS, n_chargers) -----------------
CH_MAX_KW = 0  # power shared by the charger's connectors, kW
CH_EFFICIENCY = 1  # grid -> battery (and battery -> grid) efficiency, (0, 1]
CH_IS_DC = 2  # 1.0 for DC chargers (the EV's DC limit applies), 0.0 for AC
CH_V2G = 3  # 1.0 if the charger can discharge EVs
N_CHARGER_FIELDS = 4

# --- station_f: per-station parameters, shape (N_STATION_FIELDS, n_stations) -----------------
ST_GRID_KW = 0  # grid connection capacity, kW (import and export)
ST_BESS_KWH = 1  # station battery capacity, kWh (0 = no BESS)
ST_BESS_KW = 2  # station battery power limit, kW
ST_BESS_EFFICIENCY = 3  # one-way efficiency, (0, 1]
ST_BESS_SOC_MIN = 4
ST_BESS_SOC_MAX = 5
ST_BESS_SOC_INIT = 6  # soc at reset
N_STATION_FIELDS = 7

# --- exo: exogenous inputs per tick, shape (N_EXO_FIELDS, n_ticks + forecast_ticks) -----------
EXO_RENEWABLE_KW = 0  # own wind (+ PV) output, kW
EXO_HOUSEHOLD_KW = 1  # household load, kW
EXO_PRICE = 2  # external supplier price, EUR/kWh
EXO_FEED_IN = 3  # export price, EUR/kWh
N_EXO_FIELDS = 4

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
N_EV_FIELDS = 11

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
CN_POWER_KW = 11  # grid-side power applied in the last tick, kW
N_CONN_FIELDS = 12

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
N_STATION_OUT = 6

# --- kpi: one tick's KPIs and reward terms, shape (N_KPI,) ------------------------------------
KPI_NAMES = (
    "ev_energy_kwh",  # net battery energy into EVs (charge - V2G discharge)
    "ev_charge_grid_kwh",  # grid-side energy drawn by EV charging
    "ev_discharge_grid_kwh",  # grid-side energy fed back by V2G
    "ev_losses_kwh",  # conversion losses of EV charging and V2G
    "bess_charge_grid_kwh",
    "bess_discharge_grid_kwh",
    "bess_losses_kwh",
    "household_kwh",
    "renewable_kwh",  # own production offered to the market
    "own_energy_used_kwh",  # own production consumed in the community
    "external_energy_kwh",  # bought from the external supplier
    "export_kwh",
    "curtailed_kwh",
    "import_kw",  # external import power; the episode value is the peak
    "overload_kwh",  # energy above station or feeder limits
    "arrivals",
    "rejected_arrivals",  # arrivals that found no free connector
    "departures",
    "requested_kwh",  # requested battery energy of the EVs that departed
    "delivered_kwh",  # delivered battery energy of the EVs that departed
    "unmet_energy_kwh",  # requested - delivered, summed over departures
    "revenue_eur",  # EV tariff revenue
    "energy_cost_eur",  # external energy at the supplier price
    "export_revenue_eur",
    "unmet_penalty_eur",
    "overload_penalty_eur",
    "household_payment_eur",  # households -> producers for own energy (transfer)
    "station_payment_eur",  # stations -> producers for own energy (transfer)
    "clearing_price_eur_per_kwh",  # lowest accepted bid for own energy
)
KPI = {name: i for i, name in enumerate(KPI_NAMES)}
N_KPI = len(KPI_NAMES)
KPI_EV_ENERGY = KPI["ev_energy_kwh"]
KPI_EV_CHARGE = KPI["ev_charge_grid_kwh"]
KPI_EV_DISCHARGE = KPI["ev_discharge_grid_kwh"]
KPI_EV_LOSSES = KPI["ev_losses_kwh"]
KPI_BESS_CHARGE = KPI["bess_charge_grid_kwh"]
KPI_BESS_DISCHARGE = KPI["bess_discharge_grid_kwh"]
KPI_BESS_LOSSES = KPI["bess_losses_kwh"]
KPI_HOUSEHOLD = KPI["household_kwh"]
KPI_RENEWABLE = KPI["renewable_kwh"]
KPI_OWN_USED = KPI["own_energy_used_kwh"]
KPI_EXTERNAL = KPI["external_energy_kwh"]
KPI_EXPORT = KPI["export_kwh"]
KPI_CURTAILED = KPI["curtailed_kwh"]
KPI_IMPORT_KW = KPI["import_kw"]
KPI_OVERLOAD = KPI["overload_kwh"]
KPI_ARRIVALS = KPI["arrivals"]
KPI_REJECTED = KPI["rejected_arrivals"]
KPI_DEPARTURES = KPI["departures"]
KPI_REQUESTED = KPI["requested_kwh"]
KPI_DELIVERED = KPI["delivered_kwh"]
KPI_UNMET = KPI["unmet_energy_kwh"]
KPI_REVENUE = KPI["revenue_eur"]
KPI_ENERGY_COST = KPI["energy_cost_eur"]
KPI_EXPORT_REVENUE = KPI["export_revenue_eur"]
KPI_UNMET_PENALTY = KPI["unmet_penalty_eur"]
KPI_OVERLOAD_PENALTY = KPI["overload_penalty_eur"]
KPI_HOUSEHOLD_PAYMENT = KPI["household_payment_eur"]
KPI_STATION_PAYMENT = KPI["station_payment_eur"]
KPI_CLEARING_PRICE = KPI["clearing_price_eur_per_kwh"]
# Episode totals are sums of the tick values, except these, which are maxima.
KPI_EPISODE_MAX = (KPI_IMPORT_KW, KPI_CLEARING_PRICE)
