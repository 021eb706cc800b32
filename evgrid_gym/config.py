"""Scenario configuration: YAML -> validated, typed, immutable config.

Every bad value is rejected here, before any array is built, with a :class:`ScenarioError`
that names the field path, the value given and what is allowed, e.g.::

    stations[0].grid_capacity_kw: got -5; must be greater than 0

Units follow the field names (``_kw``, ``_kwh``, ``_eur_per_kwh``, ``_h``, ``_km``); ``soc``
values are 0..1 fractions.
"""

from __future__ import annotations

import datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from evgrid_gym.data.bundled import BUNDLED, data_path
from evgrid_gym.data.wind import power_curve_kw
from evgrid_gym.grid.config import NetworkConfig


def _not_bool(value: Any) -> Any:
    """Rejects booleans in number fields (YAML reads ``yes``/``on``/``true`` as booleans)."""
    if isinstance(value, bool):
        raise ValueError(f"got {value!r}; must be a number, not a boolean")
    return value


Number = Annotated[float, BeforeValidator(_not_bool)]
Integer = Annotated[int, BeforeValidator(_not_bool)]
PositiveFloat = Annotated[Number, Field(gt=0)]
NonNegativeFloat = Annotated[Number, Field(ge=0)]
Fraction = Annotated[Number, Field(ge=0, le=1)]
Efficiency = Annotated[Number, Field(gt=0, le=1)]


def _data_ref(value: str) -> str:
    if value not in BUNDLED and not data_path(value).exists():
        raise ValueError(
            f"got {value!r}; must be a bundled data name {sorted(BUNDLED)} or an existing path"
        )
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"got {value!r}; must be an IANA time zone like 'Europe/Amsterdam'"
        ) from None
    return value


DataRef = Annotated[str, AfterValidator(_data_ref)]
"""A bundled data name (``evgrid_gym.data.bundled.BUNDLED``) or a path to a file."""


class ScenarioError(ValueError):
    """A scenario file or object is malformed; the message lists every bad field."""


class _Strict(BaseModel):
    # Unknown keys are errors; numbers must be finite (NaN and inf are rejected).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, allow_inf_nan=False)


class GridConfig(_Strict):
    """The feeder (distribution transformer) all households and stations hang on."""

    feeder_limit_kw: PositiveFloat
    limits: Literal["hard", "soft"] = "hard"
    """``hard``: station and feeder limits are enforced by projection; ``soft``: penalised."""
    network: NetworkConfig | None = None
    """A radial distribution network under the feeder (``evgrid_gym.grid``); None: the
    feeder limit alone. Not yet part of the simulated tick."""


class SupplierConfig(_Strict):
    """The external supplier (seed 000's "fusion reactor") and the export of own energy."""

    price_profile: Literal["fixed", "synthetic_day_ahead", "day_ahead"] = "fixed"
    """``fixed``, a synthetic day-ahead profile, or real day-ahead prices (``price_file``)."""
    price_eur_per_kwh: NonNegativeFloat = 0.9
    """Fixed price, or the mean of the synthetic day-ahead profile (seed 000: 0.9)."""
    price_file: DataRef = "nl_day_ahead"
    """Day-ahead prices in the Ember / ENTSO-E layout (``day_ahead`` only)."""
    markup_eur_per_kwh: Number = 0.0
    """Added to day-ahead prices (grid fees, taxes, supplier margin)."""
    feed_in_eur_per_kwh: Number = 0.05
    export: bool = True
    """True: unsold own energy is exported at the feed-in price; False: curtailed."""


class MarketConfig(_Strict):
    mode: Literal["pay_as_bid", "uniform"] = "pay_as_bid"
    household_bid_eur_per_kwh: Annotated[Number, Field(ge=1.0)] = 1.0
    """Households' bid (seed 000: 1.0); at least 1.0, the highest bid a station can make, so
    households are served first."""


class TurbineConfig(_Strict):
    turbine_type: str = "E-126/4200"
    """A turbine name of windpowerlib's turbine library (``windpowerlib.get_turbine_types()``)."""
    hub_height_m: PositiveFloat = 135.0
    count: Annotated[Integer, Field(ge=1)] = 1

    @field_validator("turbine_type")
    @classmethod
    def _known_turbine(cls, name: str) -> str:
        power_curve_kw(name)  # raises UnknownTurbineError (a ValueError): what is allowed
        return name


class WindConfig(_Strict):
    """Own wind turbines, driven by real (``nrel``) or synthetic (AR(1)) wind speeds."""

    source: Literal["synthetic", "nrel"] = "synthetic"
    wind_file: DataRef = "nrel_wind"
    """NREL WIND Toolkit wind speeds (``nrel`` only); their height is read from the file."""
    turbines: list[TurbineConfig] = []
    mean_wind_speed_m_s: PositiveFloat = 7.0
    """Mean synthetic wind speed at ``measurement_height_m``."""
    measurement_height_m: PositiveFloat = 100.0
    variability: Fraction = 0.35
    """Standard deviation of the synthetic wind speed relative to its mean."""


class PVConfig(_Strict):
    """Own PV from a SimBench per-unit profile scaled by the installed power."""

    installed_kw: NonNegativeFloat = 0.0
    profile: str = "PV3"
    profile_file: DataRef = "simbench_renewables"


SIMBENCH_HOUSEHOLDS = ("H0-A", "H0-B", "H0-C", "H0-G", "H0-H", "H0-L")


class HouseholdsConfig(_Strict):
    """Inflexible household load: ``synthetic`` or real SimBench H0 profiles."""

    count: Annotated[Integer, Field(ge=0)] = 0
    annual_kwh: PositiveFloat = 3500.0
    """Annual consumption per household, kWh."""
    source: Literal["synthetic", "simbench"] = "synthetic"
    profiles: Annotated[list[str], Field(min_length=1)] = list(SIMBENCH_HOUSEHOLDS)
    """SimBench profiles the households take in turn (``simbench`` only)."""
    profile_file: DataRef = "simbench_households"


class BessConfig(_Strict):
    """A station battery (BESS): constant power between its soc limits."""

    capacity_kwh: PositiveFloat
    power_kw: PositiveFloat
    efficiency: Efficiency = 0.95
    soc_min: Fraction = 0.1
    soc_max: Fraction = 0.9
    initial_soc: Fraction = 0.5

    @model_validator(mode="after")
    def _soc_order(self):
        if not self.soc_min < self.soc_max:
            raise ValueError(f"soc_min ({self.soc_min}) must be below soc_max ({self.soc_max})")
        if not self.soc_min <= self.initial_soc <= self.soc_max:
            raise ValueError(
                f"initial_soc ({self.initial_soc}) must lie in "
                f"[soc_min, soc_max] = [{self.soc_min}, {self.soc_max}]"
            )
        return self


class ChargerConfig(_Strict):
    """``count`` identical chargers, each sharing ``max_power_kw`` over its connectors."""

    max_power_kw: PositiveFloat
    kind: Literal["AC", "DC"] = "AC"
    efficiency: Efficiency = 0.95
    connectors: Annotated[Integer, Field(ge=1)] = 1
    count: Annotated[Integer, Field(ge=1)] = 1
    v2g: bool = False
    ids: list[str] | None = None
    """Connector ids (``count`` x ``connectors`` of them) that session traces refer to."""

    @model_validator(mode="after")
    def _id_count(self):
        if self.ids is not None and len(self.ids) != self.count * self.connectors:
            raise ValueError(
                f"ids: got {len(self.ids)}; must give count x connectors = "
                f"{self.count * self.connectors} connector ids"
            )
        return self


class StationConfig(_Strict):
    id: str
    x_km: Number = 0.0
    y_km: Number = 0.0
    grid_capacity_kw: PositiveFloat
    reservation_price_eur_per_kwh: NonNegativeFloat | None = None
    """Base price of a reservation here (station idle); None: ``evs.tariff_eur_per_kwh``."""
    bess: BessConfig | None = None
    chargers: Annotated[list[ChargerConfig], Field(min_length=1)]


class EVModelConfig(_Strict):
    """An EV model of the fleet; ``share`` weights how often it is drawn."""

    name: str
    battery_kwh: PositiveFloat
    max_ac_kw: PositiveFloat
    max_dc_kw: PositiveFloat
    max_v2g_kw: NonNegativeFloat = 0.0
    share: PositiveFloat = 1.0


class SessionConfig(_Strict):
    """One EV session given explicitly (trace-driven scenarios and tests)."""

    station: str
    arrival_tick: Annotated[Integer, Field(ge=0)]
    departure_tick: Annotated[Integer, Field(ge=1)]
    battery_kwh: PositiveFloat
    soc_arrival: Fraction
    soc_target: Fraction = 1.0
    max_ac_kw: PositiveFloat = 11.0
    max_dc_kw: PositiveFloat = 50.0
    max_v2g_kw: NonNegativeFloat = 0.0

    @model_validator(mode="after")
    def _order(self):
        if self.departure_tick <= self.arrival_tick:
            raise ValueError(
                f"departure_tick ({self.departure_tick}) must be after "
                f"arrival_tick ({self.arrival_tick})"
            )
        return self


DEFAULT_FLEET = (
    EVModelConfig(name="compact", battery_kwh=40.0, max_ac_kw=7.4, max_dc_kw=50.0, share=0.3),
    EVModelConfig(name="midsize", battery_kwh=60.0, max_ac_kw=11.0, max_dc_kw=100.0, share=0.5),
    EVModelConfig(
        name="large_v2g",
        battery_kwh=80.0,
        max_ac_kw=11.0,
        max_dc_kw=150.0,
        max_v2g_kw=11.0,
        share=0.2,
    ),
)


class EVConfig(_Strict):
    """Where EVs come from.

    ``synthetic``: Poisson arrivals with morning/evening peaks; ``elaad``: ElaadNL arrival,
    connection-time and energy statistics of ``site``; ``sessions``: the ``sessions`` list;
    ``acn``: real ACN-Data sessions replayed (``sessions_file``) by their ``station_id``.
    """

    source: Literal["synthetic", "elaad", "sessions", "acn"] = "synthetic"
    arrivals_per_station_per_day: NonNegativeFloat = 12.0
    mean_dwell_h: PositiveFloat = 4.0
    """Mean dwell time of ``synthetic`` arrivals."""
    site: Literal["private", "public", "workplace"] = "public"
    """ElaadNL site type (``elaad`` only)."""
    sessions_file: DataRef = "caltech"
    """ACN sessions, CSV or API JSON (``acn`` only)."""
    sessions_timezone: Annotated[str, AfterValidator(_timezone)] = "America/Los_Angeles"
    """Time zone of the sessions' site; their local clock times are replayed (``acn``)."""
    trace_demand: Literal["delivered", "requested"] = "delivered"
    """A replayed session's energy demand (``acn``): the energy it was delivered (ACN-Sim's
    default) or what its driver requested (often far off: at Caltech 18.5 kWh requested
    against 9.2 kWh delivered on average)."""
    soc_arrival: tuple[Fraction, Fraction] = (0.1, 0.5)
    """Uniform range of the arrival soc."""
    soc_target: tuple[Fraction, Fraction] = (0.8, 1.0)
    """Uniform range of the target soc."""
    fleet: DataRef | Annotated[list[EVModelConfig], Field(min_length=1)] = list(DEFAULT_FLEET)
    """EV models: a list, or an EV spec file weighted by registrations (``nl_fleet``)."""
    sessions: list[SessionConfig] = []
    tariff_eur_per_kwh: Number = 0.45
    """What drivers pay per kWh drawn (and are paid per kWh of V2G)."""

    @model_validator(mode="after")
    def _ranges(self):
        for name in ("soc_arrival", "soc_target"):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"{name} range ({low}, {high}) must be (low, high), low <= high")
        if self.source == "sessions" and not self.sessions:
            raise ValueError("source 'sessions' needs a non-empty 'sessions' list")
        return self


class CalendarConfig(_Strict):
    """Which day an episode simulates (real inputs are read for that day)."""

    timezone: Annotated[str, AfterValidator(_timezone)] = "Europe/Amsterdam"
    """Episodes start at local midnight here."""
    date: datetime.date | None = None
    """A fixed date; None: each reset draws a day between ``first_date`` and ``last_date``
    (for ``acn`` sessions: a day with sessions)."""
    first_date: datetime.date = datetime.date(2019, 1, 1)
    last_date: datetime.date = datetime.date(2019, 12, 31)

    @model_validator(mode="after")
    def _order(self):
        if self.last_date < self.first_date:
            raise ValueError(
                f"last_date ({self.last_date}) must not be before first_date ({self.first_date})"
            )
        return self


class BatteryModelConfig(_Strict):
    """EV battery model: two-stage CC-CV (ACN-Sim ``Linear2StageBattery``)."""

    transition_soc: Annotated[Number, Field(gt=0, le=1)] = 0.8
    v2g_soc_min: Fraction = 0.2
    """V2G never discharges an EV below this soc."""


REWARD_TERMS = (
    "revenue_eur",
    "energy_cost_eur",
    "export_revenue_eur",
    "unmet_penalty_eur",
    "overload_penalty_eur",
    "unmet_energy_kwh",
    "overload_kwh",
    "external_energy_kwh",
    "own_energy_used_kwh",
    "ev_energy_kwh",
)


class RewardConfig(_Strict):
    """Reward = sum of weights x tick KPIs; ``name`` picks a preset, ``custom`` uses ``weights``."""

    name: Literal["profit", "cost", "satisfaction", "custom"] = "profit"
    unmet_penalty_eur_per_kwh: NonNegativeFloat = 0.5
    overload_penalty_eur_per_kwh: NonNegativeFloat = 1.0
    weights: dict[Literal[REWARD_TERMS], Number] = {}

    @model_validator(mode="after")
    def _weights_only_for_custom(self):
        if (self.name == "custom") != bool(self.weights):
            raise ValueError("'weights' must be given exactly when name is 'custom'")
        return self


class ObservationConfig(_Strict):
    forecast_ticks: Annotated[Integer, Field(ge=0, le=96)] = 4


class ActionConfig(_Strict):
    bess_control: bool = True
    """True: the action has one entry per station for its BESS power."""


class OfferWeights(_Strict):
    """How an EV scores offers: ``energy * kWh - price * EUR/kWh - distance * km``."""

    distance_per_km: NonNegativeFloat = 1.0
    price_per_eur_per_kwh: NonNegativeFloat = 10.0
    energy_per_kwh: NonNegativeFloat = 0.1


class ReservationConfig(_Strict):
    """Charging reservations by contract net (``core.reservation``); ``reservation: on`` is
    short for ``{enabled: true}`` with these defaults."""

    enabled: bool = False
    """False: EVs come unannounced to their recorded station (trace-driven arrivals)."""
    lead_time_h: NonNegativeFloat = 1.0
    """The request goes out this long before the planned arrival (at the earliest at 00:00);
    rounded to whole ticks, like ``grace_h``."""
    grace_h: NonNegativeFloat = 0.25
    """A reserved connector waits this long after the planned arrival, then is released."""
    no_show_probability: Fraction = 0.05
    late_probability: Fraction = 0.1
    late_mean_h: PositiveFloat = 0.25
    """Mean delay of a late EV (exponential, at least one tick)."""
    max_price_eur_per_kwh: tuple[NonNegativeFloat, NonNegativeFloat] = (0.6, 1.2)
    """Uniform range of the highest price a driver accepts."""
    utilisation_markup_eur_per_kwh: NonNegativeFloat = 0.2
    """Price rise from an idle to a fully committed station (0: a fixed price)."""
    min_energy_fraction: Fraction = 0.5
    """Offers of less than this fraction of the energy the EV needs are unacceptable."""
    weights: OfferWeights = OfferWeights()
    origin_spread_km: NonNegativeFloat = 2.0
    """Requests come from around the EV's own station (normal, this standard deviation)."""
    observation_hours: Annotated[Integer, Field(ge=0, le=24)] = 4
    """Hourly buckets of upcoming reservations per station in the observation."""

    @model_validator(mode="after")
    def _price_range(self):
        low, high = self.max_price_eur_per_kwh
        if low > high:
            raise ValueError(f"max_price_eur_per_kwh range ({low}, {high}) must have low <= high")
        return self


def _switch(value: Any) -> Any:
    """``on``/``off`` (YAML booleans) as ``{enabled: ...}``."""
    return {"enabled": value} if isinstance(value, bool) else value


OUTAGE_COMPONENTS = ("charger", "station_link", "turbine")


class ScheduledOutage(_Strict):
    """A planned outage: ``component`` number ``index`` is down from ``start_tick`` on for
    ``duration_ticks``. Chargers count over all stations in config order (``count`` expanded),
    turbines over ``wind.turbines`` (``count`` expanded)."""

    component: Literal[OUTAGE_COMPONENTS]
    index: Annotated[Integer, Field(ge=0)]
    start_tick: Annotated[Integer, Field(ge=0)]
    duration_ticks: Annotated[Integer, Field(ge=1)] = 1


class FaultsConfig(_Strict):
    """Component outages (``core.tick``): random, with a probability per component and tick
    of failing and a geometric repair time, and scheduled."""

    charger_probability: Fraction = 0.0
    station_link_probability: Fraction = 0.0
    turbine_probability: Fraction = 0.0
    mean_repair_ticks: Annotated[Number, Field(ge=1)] = 4.0
    scheduled: list[ScheduledOutage] = []

    @property
    def enabled(self) -> bool:
        return bool(
            self.charger_probability or self.station_link_probability
            or self.turbine_probability or self.scheduled
        )  # fmt: skip


class ScenarioConfig(_Strict):
    """A whole scenario: the community, its grid, its EVs and the task."""

    name: str
    description: str = ""
    dt_h: Annotated[Number, Field(gt=0, le=24)] = 0.25
    episode_ticks: Annotated[Integer, Field(ge=1)] = 96
    grid: GridConfig
    supplier: SupplierConfig = SupplierConfig()
    market: MarketConfig = MarketConfig()
    calendar: CalendarConfig = CalendarConfig()
    wind: WindConfig = WindConfig()
    pv: PVConfig = PVConfig()
    households: HouseholdsConfig = HouseholdsConfig()
    stations: Annotated[list[StationConfig], Field(min_length=1)]
    evs: EVConfig = EVConfig()
    battery: BatteryModelConfig = BatteryModelConfig()
    reward: RewardConfig = RewardConfig()
    observation: ObservationConfig = ObservationConfig()
    action: ActionConfig = ActionConfig()
    reservation: Annotated[ReservationConfig, BeforeValidator(_switch)] = ReservationConfig()
    faults: FaultsConfig = FaultsConfig()

    @model_validator(mode="after")
    def _consistent(self):
        ticks_per_day = 24.0 / self.dt_h
        if abs(ticks_per_day - round(ticks_per_day)) > 1e-9:
            raise ValueError(f"dt_h ({self.dt_h}) must divide 24 h into whole ticks")
        ids = [s.id for s in self.stations]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"station ids must be unique; repeated: {duplicates}")
        connector_ids = [i for s in self.stations for c in s.chargers for i in c.ids or ()]
        duplicates = sorted({i for i in connector_ids if connector_ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"charger ids must be unique; repeated: {duplicates}")
        if self.grid.network is not None:
            self.grid.network.check_community(ids, len(self.wind.turbines), self.households.count)
        for i, session in enumerate(self.evs.sessions):
            if session.station not in ids:
                raise ValueError(
                    f"evs.sessions[{i}].station: got {session.station!r}; must be one of {ids}"
                )
            if session.departure_tick > self.episode_ticks:
                raise ValueError(
                    f"evs.sessions[{i}].departure_tick: got {session.departure_tick}; must be "
                    f"<= episode_ticks ({self.episode_ticks})"
                )
        counts = {
            "charger": sum(ch.count for s in self.stations for ch in s.chargers),
            "station_link": len(self.stations),
            "turbine": sum(t.count for t in self.wind.turbines),
        }
        for i, outage in enumerate(self.faults.scheduled):
            if outage.start_tick >= self.episode_ticks:
                raise ValueError(
                    f"faults.scheduled[{i}].start_tick: got {outage.start_tick}; must be < "
                    f"episode_ticks ({self.episode_ticks})"
                )
            if outage.index >= counts[outage.component]:
                raise ValueError(
                    f"faults.scheduled[{i}].index: got {outage.index}; this scenario has "
                    f"{counts[outage.component]} {outage.component}(s), indices 0.."
                    f"{counts[outage.component] - 1}"
                )
        return self


def bundled_scenarios() -> list[str]:
    """Names of the scenarios shipped in ``evgrid_gym/configs``."""
    folder = resources.files("evgrid_gym") / "configs"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_scenario(scenario: str | Path | dict | ScenarioConfig) -> ScenarioConfig:
    """Returns a validated config from a bundled name, a YAML path, a dict or a config.

    Raises:
        ScenarioError: unknown name, unreadable or malformed YAML, or any invalid field.
    """
    if isinstance(scenario, ScenarioConfig):
        return scenario
    if isinstance(scenario, dict):
        return _validate(scenario, "<dict>")
    if not isinstance(scenario, (str, Path)):
        raise ScenarioError(
            f"scenario: got {type(scenario).__name__}; must be a bundled name, a YAML path, "
            "a dict or a ScenarioConfig"
        )
    path = Path(scenario)
    if not path.suffix and str(scenario) in bundled_scenarios():
        path = Path(str(resources.files("evgrid_gym") / "configs" / f"{scenario}.yaml"))
    if not path.is_file():
        raise ScenarioError(
            f"scenario: got {str(scenario)!r}; not a bundled scenario {bundled_scenarios()} "
            "and no such YAML file"
        )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ScenarioError(f"{path}: malformed YAML: {err}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: must hold a mapping of scenario fields, got {data!r}")
    return _validate(data, str(path))


def _validate(data: dict, source: str) -> ScenarioConfig:
    try:
        return ScenarioConfig.model_validate(data)
    except ValidationError as err:
        by_path: dict[str, list[str]] = {}
        for e in err.errors():
            path, _, what = _describe(e).partition(": ")
            by_path.setdefault(path, []).append(what)
        # the branches of a union fail together: one line, "A; or B"
        lines = [f"{path}: " + "; or ".join(whats) for path, whats in by_path.items()]
        raise ScenarioError(f"{source}: invalid scenario\n  " + "\n  ".join(lines)) from None


def _describe(error: dict) -> str:
    """One line per pydantic error: ``path: got VALUE; what is allowed``."""
    # drop the branch tags pydantic adds inside unions, e.g. 'list[EVModelConfig]'
    loc = tuple(p for p in error["loc"] if isinstance(p, int) or "[" not in p)
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    if error["type"] == "extra_forbidden":
        allowed = sorted(_model_at(loc[:-1]).model_fields)
        return f"{path}: unknown key; allowed keys here: {allowed}"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{path or '<root>'}: required field is missing"
    if error["type"].startswith(("value_error", "assertion_error")):
        return f"{path or '<root>'}: {message}"
    return f"{path}: got {error['input']!r}; {message[0].lower()}{message[1:]}"


def _model_at(loc: tuple) -> type[BaseModel]:
    """The config model class found by following ``loc`` from :class:`ScenarioConfig`."""
    model: Any = ScenarioConfig
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        model = _model_in(annotation)
    return model


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
