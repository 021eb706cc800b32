"""Scenario configuration: YAML -> validated, typed, immutable config.

Every bad value is rejected here, before any array is built, with a :class:`ScenarioError`
that names the field path, the value given and what is allowed, e.g.::

    stations[0].grid_capacity_kw: got -5; must be greater than 0

Units follow the field names (``_kw``, ``_kwh``, ``_eur_per_kwh``, ``_h``, ``_km``); ``soc``
values are 0..1 fractions.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from evgrid_gym.data.wind import power_curve_kw

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
Efficiency = Annotated[float, Field(gt=0, le=1)]


class ScenarioError(ValueError):
    """A scenario file or object is malformed; the message lists every bad field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class GridConfig(_Strict):
    """The feeder (distribution transformer) all households and stations hang on."""

    feeder_limit_kw: PositiveFloat
    limits: Literal["hard", "soft"] = "hard"
    """``hard``: station and feeder limits are enforced by projection; ``soft``: penalised."""


class SupplierConfig(_Strict):
    """The external supplier (seed 000's "fusion reactor") and the export of own energy."""

    price_eur_per_kwh: float = 0.9
    """Fixed price, or the mean of the synthetic day-ahead profile (seed 000: 0.9)."""
    price_profile: Literal["fixed", "synthetic_day_ahead"] = "fixed"
    feed_in_eur_per_kwh: float = 0.05
    export: bool = True
    """True: unsold own energy is exported at the feed-in price; False: curtailed."""


class MarketConfig(_Strict):
    mode: Literal["pay_as_bid", "uniform"] = "pay_as_bid"
    household_bid_eur_per_kwh: PositiveFloat = 1.0


class TurbineConfig(_Strict):
    turbine_type: str = "E-126/4200"
    """A turbine name of windpowerlib's turbine library (``windpowerlib.get_turbine_types()``)."""
    hub_height_m: PositiveFloat = 135.0
    count: Annotated[int, Field(ge=1)] = 1

    @field_validator("turbine_type")
    @classmethod
    def _known_turbine(cls, name: str) -> str:
        power_curve_kw(name)  # raises UnknownTurbineError (a ValueError) naming what is allowed
        return name


class WindConfig(_Strict):
    """Own wind turbines driven by a synthetic wind-speed series (AR(1) around a mean)."""

    turbines: list[TurbineConfig] = []
    mean_wind_speed_m_s: PositiveFloat = 7.0
    """Mean wind speed at ``measurement_height_m``."""
    measurement_height_m: PositiveFloat = 100.0
    variability: Fraction = 0.35
    """Standard deviation of the wind speed relative to its mean."""


class HouseholdsConfig(_Strict):
    count: Annotated[int, Field(ge=0)] = 0
    annual_kwh: PositiveFloat = 3500.0
    """Annual consumption per household, kWh."""


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
    connectors: Annotated[int, Field(ge=1)] = 1
    count: Annotated[int, Field(ge=1)] = 1
    v2g: bool = False


class StationConfig(_Strict):
    id: str
    x_km: float = 0.0
    y_km: float = 0.0
    grid_capacity_kw: PositiveFloat
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
    arrival_tick: Annotated[int, Field(ge=0)]
    departure_tick: Annotated[int, Field(ge=1)]
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
    """EV arrivals: ``synthetic`` (Poisson arrivals, morning/evening peaks) or ``sessions``."""

    source: Literal["synthetic", "sessions"] = "synthetic"
    arrivals_per_station_per_day: NonNegativeFloat = 12.0
    mean_dwell_h: PositiveFloat = 4.0
    soc_arrival: tuple[Fraction, Fraction] = (0.1, 0.5)
    """Uniform range of the arrival soc."""
    soc_target: tuple[Fraction, Fraction] = (0.8, 1.0)
    """Uniform range of the target soc."""
    fleet: Annotated[list[EVModelConfig], Field(min_length=1)] = list(DEFAULT_FLEET)
    sessions: list[SessionConfig] = []
    tariff_eur_per_kwh: float = 0.45
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


class BatteryModelConfig(_Strict):
    """EV battery model: two-stage CC-CV (ACN-Sim ``Linear2StageBattery``)."""

    transition_soc: Annotated[float, Field(gt=0, le=1)] = 0.8
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
    weights: dict[Literal[REWARD_TERMS], float] = {}

    @model_validator(mode="after")
    def _weights_only_for_custom(self):
        if (self.name == "custom") != bool(self.weights):
            raise ValueError("'weights' must be given exactly when name is 'custom'")
        return self


class ObservationConfig(_Strict):
    forecast_ticks: Annotated[int, Field(ge=0, le=96)] = 4


class ActionConfig(_Strict):
    bess_control: bool = True
    """True: the action has one entry per station for its BESS power."""


class ScenarioConfig(_Strict):
    """A whole scenario: the community, its grid, its EVs and the task."""

    name: str
    description: str = ""
    dt_h: Annotated[float, Field(gt=0, le=24)] = 0.25
    episode_ticks: Annotated[int, Field(ge=1)] = 96
    grid: GridConfig
    supplier: SupplierConfig = SupplierConfig()
    market: MarketConfig = MarketConfig()
    wind: WindConfig = WindConfig()
    households: HouseholdsConfig = HouseholdsConfig()
    stations: Annotated[list[StationConfig], Field(min_length=1)]
    evs: EVConfig = EVConfig()
    battery: BatteryModelConfig = BatteryModelConfig()
    reward: RewardConfig = RewardConfig()
    observation: ObservationConfig = ObservationConfig()
    action: ActionConfig = ActionConfig()

    @model_validator(mode="after")
    def _consistent(self):
        ticks_per_day = 24.0 / self.dt_h
        if abs(ticks_per_day - round(ticks_per_day)) > 1e-9:
            raise ValueError(f"dt_h ({self.dt_h}) must divide 24 h into whole ticks")
        ids = [s.id for s in self.stations]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"station ids must be unique; repeated: {duplicates}")
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
        lines = [_describe(e) for e in err.errors()]
        raise ScenarioError(f"{source}: invalid scenario\n  " + "\n  ".join(lines)) from None


def _describe(error: dict) -> str:
    """One line per pydantic error: ``path: got VALUE; what is allowed``."""
    loc = error["loc"]
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
