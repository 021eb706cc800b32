"""Scenario configuration: YAML -> validated, typed, immutable config.

Every bad value is rejected here, before any array is built, with a :class:`ScenarioError`
that names the field path, the value given and what is allowed, e.g.::

    stations[0].grid_capacity_kw: got -5; must be greater than 0

Units follow the field names (``_kw``, ``_kwh``, ``_eur_per_kwh``, ``_h``, ``_km``); ``soc``
values are 0..1 fractions.
"""

from __future__ import annotations

import datetime
import math
from functools import cache
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

from evgrid_gym.core.layout import REWARD_TERMS
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
    """``hard``: station, feeder and network limits are enforced by projection; ``soft``:
    penalised."""
    network: NetworkConfig | None = None
    """A radial distribution network under the feeder (``evgrid_gym.grid``): each tick's
    voltages and loadings by LinDistFlow, its limits enforced (``hard``) or penalised
    (``soft``) with the others (``core.network``); None: the feeder limit alone."""


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

    @property
    def rated_kw(self) -> float:
        """Rated power of one turbine, kW: the maximum of its windpowerlib power curve."""
        return float(power_curve_kw(self.turbine_type)[1].max())

    @property
    def installed_kw(self) -> float:
        """Rated power of the ``count`` turbines, kW."""
        return self.count * self.rated_kw


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
    charger_ids: list[str] | None = None
    """Ids of the ``count`` chargers (the station service's ``charger_id``); None: their
    1-based position in the station, ``"1"``, ``"2"``, ..."""

    @model_validator(mode="after")
    def _id_count(self):
        if self.ids is not None and len(self.ids) != self.count * self.connectors:
            raise ValueError(
                f"ids: got {len(self.ids)}; must give count x connectors = "
                f"{self.count * self.connectors} connector ids"
            )
        if self.charger_ids is not None and len(self.charger_ids) != self.count:
            raise ValueError(
                f"charger_ids: got {len(self.charger_ids)}; must give count = {self.count} "
                "charger ids"
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

    def resolved_charger_ids(self) -> list[str]:
        """The id of every charger of the station, in order (``count`` expanded): its
        ``charger_ids`` entry, else its 1-based position in the station."""
        ids = []
        for charger in self.chargers:
            for k in range(charger.count):
                given = charger.charger_ids
                ids.append(given[k] if given is not None else str(len(ids) + 1))
        return ids


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


class NormalDistribution(_Strict):
    """A normal distribution (``mean``, ``std``) of the field's unit."""

    kind: Literal["normal"]
    mean: Number
    std: NonNegativeFloat

    @property
    def center(self) -> float:
        return self.mean


class EmpiricalDistribution(_Strict):
    """A histogram: a share ``weights[i] / sum(weights)`` of the draws falls in ``[edges[i],
    edges[i + 1])``, uniformly within it."""

    kind: Literal["empirical"]
    edges: Annotated[list[Number], Field(min_length=2)]
    weights: Annotated[list[NonNegativeFloat], Field(min_length=1)]

    @model_validator(mode="after")
    def _histogram(self):
        if len(self.edges) != len(self.weights) + 1:
            raise ValueError(
                f"edges: got {len(self.edges)} edges for {len(self.weights)} weights; must "
                "give one edge more than weights"
            )
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError(f"edges: got {self.edges}; must be strictly increasing")
        if not sum(self.weights) > 0:
            raise ValueError(f"weights: got {self.weights}; must add up to more than 0")
        return self

    @property
    def center(self) -> float:
        """The mean of the histogram."""
        mids = [(a + b) / 2 for a, b in zip(self.edges, self.edges[1:], strict=False)]
        return sum(m * w for m, w in zip(mids, self.weights, strict=True)) / sum(self.weights)


class ElaadDistribution(_Strict):
    """ElaadNL's statistic of the field at a ``site`` (bundled ``elaad`` data): the arrival
    profile (``plug_in_h``, weekday or weekend by the block it is in), the connection time
    (``stay_h``) or the energy demand (``soc_plug_in``: the user arrives that much below its
    target)."""

    kind: Literal["elaad"]
    site: Literal["private", "public", "workplace"]


Distribution = Annotated[
    NormalDistribution | EmpiricalDistribution | ElaadDistribution, Field(discriminator="kind")
]


def _within(name: str, distribution, low: float, high: float) -> None:
    """Raises ValueError when an empirical ``distribution`` has edges outside [low, high]."""
    if isinstance(distribution, EmpiricalDistribution):
        edges = distribution.edges
        if edges[0] < low or edges[-1] > high:
            raise ValueError(f"{name}.edges: got {edges}; must lie within [{low}, {high}]")


class PlugDayConfig(_Strict):
    """When an archetype's users plug in and out on one kind of day (weekdays or weekends).

    Clock times are hours after local midnight: draws of a normal distribution are taken
    modulo 24. A session ends at ``plug_out_h`` (a clock time; with ``overnight``, one at or
    before the plug-in is on the next day; without, the session lasts at least one tick) or
    ``stay_h`` hours after the plug-in (at least one tick).
    """

    plug_in_h: Distribution
    plug_out_h: Distribution | None = None
    stay_h: Distribution | None = None
    overnight: bool = False

    @model_validator(mode="after")
    def _one_end(self):
        if (self.plug_out_h is None) == (self.stay_h is None):
            raise ValueError("give plug_out_h (a clock time) or stay_h (hours), not both")
        _within("plug_in_h", self.plug_in_h, 0.0, 24.0)
        _within("plug_out_h", self.plug_out_h, 0.0, 24.0)
        _within("stay_h", self.stay_h, 0.0, math.inf)
        if isinstance(self.plug_out_h, ElaadDistribution):
            raise ValueError(
                "plug_out_h: ElaadNL has no plug-out statistic; use stay_h: {kind: elaad, ...} "
                "(its connection time)"
            )
        if self.plug_out_h is not None and not self.overnight:
            plug_in = getattr(self.plug_in_h, "center", None)
            if plug_in is not None and self.plug_out_h.center <= plug_in:
                raise ValueError(
                    f"plug_out_h (mean {self.plug_out_h.center:g} h) is not after plug_in_h "
                    f"(mean {plug_in:g} h); set overnight: true for sessions that end the "
                    "next day"
                )
        return self


class ArchetypeConfig(_Strict):
    """A kind of EV user (seed 004): when its users plug in and out, with what soc and car.

    Each user plugs in on a day with probability ``days_per_week / 7`` (``/ 5`` when it
    never plugs in on weekends, ``weekend: null``). ``soc_plug_in`` is drawn (clipped to
    [0, ``soc_target``]) for a user's first session of an episode, and for every session
    when ``driving_kwh_per_day`` is not given; with it, a user arrives with the soc its
    previous session left it at, less that energy per day in between (at least 0).
    """

    name: str
    share: Annotated[Number, Field(gt=0, le=1)]
    """Share of the population; the shares of all archetypes add up to 1."""
    stations: Annotated[list[str], Field(min_length=1)] | None = None
    """Ids of the stations its users charge at (each user at one, in turn); None: all."""
    days_per_week: Annotated[Number, Field(gt=0, le=7)]
    weekday: PlugDayConfig
    weekend: PlugDayConfig | None = None
    """None: its users never plug in on Saturdays and Sundays."""
    soc_plug_in: Distribution
    soc_target: Annotated[Number, Field(gt=0, le=1)] = 1.0
    battery_kwh: PositiveFloat
    max_charge_kw: PositiveFloat
    """The car's charging limit, kW (AC and DC)."""
    max_v2g_kw: NonNegativeFloat = 0.0
    driving_kwh_per_day: NonNegativeFloat | None = None

    @model_validator(mode="after")
    def _frequency(self):
        if self.weekend is None and self.days_per_week > 5:
            raise ValueError(
                f"days_per_week: got {self.days_per_week:g}; must be at most 5 when the users "
                "never plug in on weekends (weekend: null)"
            )
        _within("soc_plug_in", self.soc_plug_in, 0.0, 1.0)
        return self


def _check_population(archetypes: list[ArchetypeConfig], where: str = "archetypes") -> None:
    """Raises ValueError when the archetypes' names repeat or their shares do not add up to 1."""
    names = [a.name for a in archetypes]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{where}: names must be unique; repeated: {repeated}")
    total = sum(a.share for a in archetypes)
    if abs(total - 1.0) > 1e-6:
        shares = [a.share for a in archetypes]
        raise ValueError(
            f"{where}[*].share: got {shares}, adding up to {total:g}; must add up to 1"
        )


class ArchetypesFile(_Strict):
    """An archetypes file: ``archetypes: [...]`` and an optional ``description``."""

    description: str = ""
    archetypes: Annotated[list[ArchetypeConfig], Field(min_length=1)]

    @model_validator(mode="after")
    def _population(self):
        _check_population(self.archetypes)
        return self


def _archetypes_file(value: str) -> str:
    """Validates the archetypes file ``value`` (bundled name or path) when it is given."""
    load_archetypes(value)
    return value


@cache
def load_archetypes(name_or_path: str) -> tuple[ArchetypeConfig, ...]:
    """The archetypes of a file (a bundled name such as ``archetypes_residential`` or a
    path), validated.

    Raises:
        ValueError: a missing or malformed file, or an invalid field (its path in the file,
            the value and what is allowed, one line each).
    """
    path = data_path(name_or_path)
    if not path.is_file():
        raise ValueError(
            f"got {name_or_path!r}; must be a bundled archetypes file "
            f"{sorted(n for n in BUNDLED if n.startswith('archetypes'))} or an existing path"
        )
    try:
        data = yaml.safe_load(path.read_text())
        return tuple(ArchetypesFile.model_validate(data).archetypes)
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: malformed YAML: {err}") from None
    except ValidationError as err:
        lines = [_describe(e, ArchetypesFile) for e in err.errors()]
        raise ValueError(f"{path}: " + "; ".join(lines)) from None


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
    ``acn``: real ACN-Data sessions replayed (``sessions_file``) by their ``station_id``;
    ``archetypes``: a ``population`` of users of a few ``archetypes`` (seed 004) who keep
    their identity over the days of an episode (:mod:`evgrid_gym.archetypes`).
    """

    source: Literal["synthetic", "elaad", "sessions", "acn", "archetypes"] = "synthetic"
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
    trace_battery: Literal["fleet", "acnsim"] = "fleet"
    """A replayed session's battery (``acn``; rules in :class:`evgrid_gym.arrivals.
    TraceArrivals`): ``fleet``, an EV model of the fleet whose soc follows from the demand,
    or ``acnsim``, ACN-Sim's replay convention: a battery of the demand's size, empty on
    arrival, charged to full, limited only by its charger."""
    soc_arrival: tuple[Fraction, Fraction] = (0.1, 0.5)
    """Uniform range of the arrival soc."""
    soc_target: tuple[Fraction, Fraction] = (0.8, 1.0)
    """Uniform range of the target soc."""
    fleet: DataRef | Annotated[list[EVModelConfig], Field(min_length=1)] = list(DEFAULT_FLEET)
    """EV models: a list, or an EV spec file weighted by registrations (``nl_fleet``)."""
    sessions: list[SessionConfig] = []
    archetypes: list[ArchetypeConfig] = []
    """User archetypes (``archetypes`` only), or give ``archetypes_file``."""
    archetypes_file: Annotated[str, AfterValidator(_archetypes_file)] | None = None
    """A file of archetypes (``archetypes`` only): a bundled name (``archetypes_residential``)
    or a path to a YAML file ``{archetypes: [...]}``."""
    population: Annotated[Integer, Field(ge=1)] = 100
    """Number of users (``archetypes`` only), split by the archetypes' shares."""
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
        if self.source == "archetypes":
            if bool(self.archetypes) == (self.archetypes_file is not None):
                raise ValueError("source 'archetypes' needs 'archetypes' or 'archetypes_file'")
            if self.archetypes:
                _check_population(self.archetypes)
        return self

    def resolved_archetypes(self) -> tuple[ArchetypeConfig, ...]:
        """The archetypes: ``archetypes``, or those of ``archetypes_file``."""
        if self.archetypes_file is not None:
            return load_archetypes(self.archetypes_file)
        return tuple(self.archetypes)


def _date_range(value: tuple[datetime.date, datetime.date]):
    first, last = value
    if last < first:
        raise ValueError(f"got [{first}, {last}]; must be [first, last] with first <= last")
    return value


DateRange = Annotated[tuple[datetime.date, datetime.date], AfterValidator(_date_range)]
"""``[first, last]``: the days from ``first`` to ``last``, both included."""


class CalendarConfig(_Strict):
    """Which day an episode simulates (real inputs are read for that day).

    A reset draws its day, in this order of precedence, from: ``reset(options={"date":
    ...})``, ``reset(options={"split": ...})``, ``date``, the split named by ``split``, and
    else every day from ``first_date`` to ``last_date``. For replayed sessions (``evs.source:
    acn``) only days with at least one arrival count.
    """

    timezone: Annotated[str, AfterValidator(_timezone)] = "Europe/Amsterdam"
    """Episodes start at local midnight here."""
    date: datetime.date | None = None
    """A fixed date; None: each reset draws a day (see above)."""
    first_date: datetime.date = datetime.date(2019, 1, 1)
    last_date: datetime.date = datetime.date(2019, 12, 31)
    splits: dict[str, DateRange] = {}
    """Named date ranges that do not overlap, e.g. ``{train: [2019-05-01, 2019-09-30],
    test: [2019-12-01, 2020-03-08]}``: the days of held-out evaluation are never trained on
    (SustainGym splits ACN data by period the same way)."""
    split: str | None = None
    """The split a reset draws from by default (a key of ``splits``); None: ``first_date``
    to ``last_date``."""

    @field_validator("splits")
    @classmethod
    def _disjoint(cls, splits: dict):
        ordered = sorted(splits.items(), key=lambda item: item[1])
        for (name, (_, last)), (other, (first, _)) in zip(ordered, ordered[1:], strict=False):
            if first <= last:
                raise ValueError(
                    f"{name!r} {list(map(str, splits[name]))} and {other!r} "
                    f"{list(map(str, splits[other]))} overlap; splits must not share a day"
                )
        return splits

    @field_validator("split")
    @classmethod
    def _known_split(cls, split: str | None, info):
        names = sorted(info.data.get("splits", {}))
        if split is not None and split not in names:
            raise ValueError(f"got {split!r}; must be one of the splits {names}")
        return split

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
    pilot: Literal["average", "acn"] = "average"
    """How a connector's charging power is read (``core.battery``): ``average``, the average
    power over the tick (any average up to the curve's exact maximum; what the optimum
    models), or ``acn``, a pilot held until the CC-CV curve binds, as in ACN-Sim."""


USD_PER_EUR_2024 = 1.0824
"""The ECB's euro reference rate against the US dollar, average of 2024 (ECB Statistical Data
Warehouse, series EXR.A.USD.EUR.SP00.A): converts BNEF's USD pack prices."""


class BatteryWearConfig(_Strict):
    """What a battery's cycling wears out: its price and its cycle life.

    Cycle aging is taken as linear in energy throughput (Wang et al., "Degradation of lithium
    ion batteries employing graphite negatives and nickel-cobalt-manganese oxide + spinel
    manganese oxide positives: Part 1", J. Power Sources 269 (2014) 937-948: "cycle loss is
    approximately linear as a function of charge throughput"), so a battery wears out after
    ``cycle_life`` full equivalent cycles of its usable capacity, ``2 x cycle_life x usable``
    kWh in and out, and each kWh of throughput costs

        price_eur_per_kwh / (cycle_life x 2 x usable_fraction)   EUR per kWh of throughput,

    the wear cost of Kempton and Tomic ("Vehicle-to-grid power fundamentals: Calculating
    capacity and net revenue", J. Power Sources 144 (2005) 268-279: battery cost over lifetime
    throughput) split over the two halves of a cycle. The cycle life of a datasheet, measured
    over the cell's full range, is used as the cycle life of the usable range: shallower
    cycles last longer, so the cost is on the safe side. Calendar aging is not modelled.
    """

    price_eur_per_kwh: NonNegativeFloat
    """Battery price, EUR per kWh of nominal capacity."""
    cycle_life: PositiveFloat
    """Full equivalent cycles to end of life (80 % of the initial capacity)."""

    def throughput_cost_eur_per_kwh(self, usable_fraction: float) -> float:
        """Wear cost per kWh into or out of the battery (battery side), EUR/kWh.

        Args:
            usable_fraction: usable / nominal capacity, (0, 1].
        """
        return self.price_eur_per_kwh / (self.cycle_life * 2.0 * usable_fraction)


class EVWearConfig(BatteryWearConfig):
    """An EV battery under V2G. Defaults: a BEV pack at BNEF's 2024 price of USD 97/kWh
    (BloombergNEF, Lithium-Ion Battery Price Survey, 10 December 2024), 89.6 EUR/kWh at
    :data:`USD_PER_EUR_2024`; the Samsung SDI 94 Ah NCM prismatic cell of the BMW i3, 80 % of
    its capacity after 4,600 full cycles (0-100 %, 25 C; its product specification); the
    BMW i3 120 Ah pack's 37.9 kWh usable of 42.2 kWh nominal (EV Database)."""

    price_eur_per_kwh: NonNegativeFloat = 89.6
    cycle_life: PositiveFloat = 4600.0
    usable_fraction: Annotated[Number, Field(gt=0, le=1)] = 0.9
    """Usable / nominal capacity of the pack: an EV's ``battery_kwh`` (what its soc 0..1
    spans) is its usable capacity."""


class BessWearConfig(BatteryWearConfig):
    """A station battery; its usable fraction is its soc window, ``soc_max - soc_min``.
    Defaults: BNEF's 2024 average pack price over all end uses, USD 115/kWh (BloombergNEF,
    Lithium-Ion Battery Price Survey, 10 December 2024), 106.2 EUR/kWh at
    :data:`USD_PER_EUR_2024`; the EVE LF304 LFP storage cell, 80 % of its capacity after
    3,500 cycles (1C/1C, 25 C; its datasheet)."""

    price_eur_per_kwh: NonNegativeFloat = 106.2
    cycle_life: PositiveFloat = 3500.0


class DegradationConfig(_Strict):
    """Battery degradation as a cost per kWh of throughput (:class:`BatteryWearConfig`),
    booked as ``degradation_cost_eur``; ``degradation: on`` is short for ``{enabled: true}``.

    What is charged: each kWh V2G takes out of an EV battery, twice (its discharge and the
    recharge that puts it back: the cycle V2G adds; the driver's own charging is not the
    operator's wear), and each kWh into or out of a station battery (all its cycling is the
    operator's). Battery side, as the soc moves.
    """

    enabled: bool = False
    """False: no wear cost (``degradation_cost_eur`` stays 0)."""
    ev: EVWearConfig = EVWearConfig()
    bess: BessWearConfig = BessWearConfig()

    def v2g_eur_per_kwh(self) -> float:
        """Wear cost per battery kWh V2G takes out of an EV (and puts back), EUR/kWh."""
        if not self.enabled:
            return 0.0
        return 2.0 * self.ev.throughput_cost_eur_per_kwh(self.ev.usable_fraction)

    def bess_eur_per_kwh(self, bess: BessConfig) -> float:
        """Wear cost per battery kWh into or out of the station battery ``bess``, EUR/kWh."""
        if not self.enabled:
            return 0.0
        return self.bess.throughput_cost_eur_per_kwh(bess.soc_max - bess.soc_min)


_COST_TERMS = {  # the operator's money terms but the drivers' payments
    "energy_cost_eur": -1.0,
    "export_revenue_eur": 1.0,
    "unmet_penalty_eur": -1.0,
    "overload_penalty_eur": -1.0,
    "network_penalty_eur": -1.0,
    "storage_value_eur": 1.0,
    "degradation_cost_eur": -1.0,
}
REWARD_PRESETS = {
    "profit": {"revenue_eur": 1.0, **_COST_TERMS},
    "cost": dict(_COST_TERMS),
    "satisfaction": {
        "unmet_energy_kwh": -1.0,
        "overload_kwh": -1.0,
        "network_violation_kwh": -1.0,
    },
}
"""The reward presets: KPI name -> weight (the operator's profit, its energy cost, and the
drivers' satisfaction, in EUR, EUR and kWh)."""


class RewardConfig(_Strict):
    """Reward = sum of weights x tick KPIs; ``name`` picks a preset, ``custom`` uses ``weights``."""

    name: Literal[(*REWARD_PRESETS, "custom")] = "profit"
    unmet_penalty_eur_per_kwh: NonNegativeFloat = 0.5
    overload_penalty_eur_per_kwh: NonNegativeFloat = 1.0
    network_penalty_eur_per_kwh: NonNegativeFloat = 1.0
    """Per kWh above the ratings of the network's lines and transformer
    (``network_violation_kwh``; with ``grid.network``)."""
    voltage_penalty_eur_per_pu_h: NonNegativeFloat = 100.0
    """Per pu and hour the worst bus lies outside the network's voltage band
    (``voltage_violation_pu_h``): 1 EUR for 1 % (0.01 pu) for an hour, as much as a kWh of
    overload at the default penalty (a modelling choice, no tariff)."""
    storage_value_eur_per_kwh: Literal["mean_price"] | NonNegativeFloat = "mean_price"
    """What a kWh a station battery gives back to the grid is worth, EUR/kWh: a number, or
    ``mean_price``, the episode's mean external price. The energy stored in a BESS is worth
    this times its efficiency per kWh; ``storage_value_eur`` books the change of that worth
    each tick, so a battery drained at the end of an episode pays for what it gave away."""
    weights: dict[Literal[REWARD_TERMS], Number] = {}
    """KPI name -> weight of a ``custom`` reward; the names are the reward terms of the KPI
    registry (``core.layout.REWARD_TERMS``)."""

    @model_validator(mode="after")
    def _weights_only_for_custom(self):
        if (self.name == "custom") != bool(self.weights):
            raise ValueError("'weights' must be given exactly when name is 'custom'")
        return self

    @property
    def kpi_weights(self) -> dict[str, float]:
        """KPI name -> weight: the preset's, or ``weights`` for ``custom``."""
        return dict(self.weights if self.name == "custom" else REWARD_PRESETS[self.name])


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
    """Charging reservations by contract net (``core.contract_net``); ``reservation: on`` is
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
    degradation: Annotated[DegradationConfig, BeforeValidator(_switch)] = DegradationConfig()

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
        for i, station in enumerate(self.stations):
            charger_ids = station.resolved_charger_ids()
            duplicates = sorted({c for c in charger_ids if charger_ids.count(c) > 1})
            if duplicates:
                raise ValueError(
                    f"stations[{i}].chargers: charger ids must be unique in a station; "
                    f"repeated: {duplicates}"
                )
        if self.grid.network is not None:
            self.grid.network.check_community(
                ids, len(self.wind.turbines), self.households.count, self.pv.installed_kw > 0.0
            )
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
        self._check_archetype_stations(ids)
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

    def _check_archetype_stations(self, ids: list[str]) -> None:
        """Every station an archetype names exists (``evs.source: archetypes``)."""
        evs = self.evs
        if evs.source != "archetypes":
            return
        where = "evs.archetypes"
        if evs.archetypes_file is not None:
            where = f"evs.archetypes_file ({evs.archetypes_file}): archetypes"
        for i, archetype in enumerate(evs.resolved_archetypes()):
            for j, station in enumerate(archetype.stations or ()):
                if station not in ids:
                    raise ValueError(
                        f"{where}[{i}].stations[{j}]: got {station!r}; must be one of {ids}"
                    )


def with_split(config: ScenarioConfig, split: str) -> ScenarioConfig:
    """``config`` with its episodes drawn from ``split`` (``calendar.split``).

    Raises:
        ScenarioError: ``split`` is not one of the scenario's ``calendar.splits``.
    """
    names = sorted(config.calendar.splits)
    if split not in names:
        has = f"the splits {names}" if names else "no calendar.splits"
        raise ScenarioError(f"split: got {split!r}; scenario {config.name!r} has {has}")
    calendar = config.calendar.model_copy(update={"split": split})
    return config.model_copy(update={"calendar": calendar})


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


def _describe(error: dict, root: type[BaseModel] | None = None) -> str:
    """One line per pydantic error: ``path: got VALUE; what is allowed`` (the path from
    ``root``, default :class:`ScenarioConfig`)."""
    # drop the branch tags pydantic adds inside unions, e.g. 'list[EVModelConfig]'
    loc = tuple(p for p in error["loc"] if isinstance(p, int) or "[" not in p)
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    if error["type"] == "extra_forbidden":
        allowed = sorted(_model_at(loc[:-1], root or ScenarioConfig).model_fields)
        return f"{path}: unknown key; allowed keys here: {allowed}"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{path or '<root>'}: required field is missing"
    if error["type"].startswith(("value_error", "assertion_error")):
        return f"{path or '<root>'}: {message}"
    return f"{path}: got {error['input']!r}; {message[0].lower()}{message[1:]}"


def _model_at(loc: tuple, root: type[BaseModel]) -> type[BaseModel]:
    """The config model class found by following ``loc`` from ``root``; a part that is no
    field is the tag of a discriminated union (``kind``) and picks its branch."""
    annotation: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        model = _model_in(annotation)
        if part in model.model_fields:
            annotation = model.model_fields[part].annotation
        else:
            annotation = _model_in(annotation, tag=part)
    return _model_in(annotation)


def _model_in(annotation: Any, tag: str | None = None) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        kind = annotation.model_fields.get("kind")
        if tag is None or (kind is not None and tag in getattr(kind.annotation, "__args__", ())):
            return annotation
        return None
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg, tag)
        if found is not None:
            return found
    return None
