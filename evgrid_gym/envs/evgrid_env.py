"""``EVGrid-v2``: smart EV charging on a local power grid, as a Gymnasium env."""

from __future__ import annotations

import datetime
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from evgrid_gym.arrays import readonly
from evgrid_gym.config import ScenarioConfig, load_scenario
from evgrid_gym.core import flexibility as flex
from evgrid_gym.core import layout as L
from evgrid_gym.core import tick as core
from evgrid_gym.core.state import Episode, Outputs, State
from evgrid_gym.kpis import episode_kpis
from evgrid_gym.scenario import Scenario, parse_date

_STATION_INFO = {
    L.SO_NET_KW: "station_net_kw",
    L.SO_OWN_KWH: "station_own_kwh",
    L.SO_EXTERNAL_KWH: "station_external_kwh",
    L.SO_MARKET_PAYMENT_EUR: "station_market_payment_eur",
    L.SO_BID_EUR_PER_KWH: "station_bid_eur_per_kwh",
    L.SO_BESS_KW: "station_bess_kw",
    L.SO_REVENUE_EUR: "station_revenue_eur",
    L.SO_ENERGY_COST_EUR: "station_energy_cost_eur",
    L.SO_STORAGE_VALUE_EUR: "station_storage_value_eur",
    L.SO_UNMET_KWH: "station_unmet_energy_kwh",
    L.SO_UNMET_PENALTY_EUR: "station_unmet_penalty_eur",
    L.SO_OVERLOAD_KWH: "station_overload_kwh",
    L.SO_OVERLOAD_PENALTY_EUR: "station_overload_penalty_eur",
    L.SO_DEGRADATION_EUR: "station_degradation_cost_eur",
    L.SO_PROFIT_EUR: "station_profit_eur",
}
STATION_INFO = tuple(_STATION_INFO[field] for field in range(L.N_STATION_OUT))
"""``info``'s name of each per-station result, in the order of the ``station_out`` rows."""


class EpisodePlan(NamedTuple):
    """An episode as a planner with perfect foresight sees it (read-only arrays).

    Attributes:
        date: the episode's day, ISO format.
        exo: exogenous inputs, shape (N_EXO_FIELDS, n_exo_ticks) (``core.layout.EXO_*``).
        ev: EV sessions, shape (N_EV_FIELDS, n_evs) (``core.layout.EV_*``).
        connector_ev: index into ``ev`` of the EV on each connector during each tick, -1 when
            free, shape (episode_ticks, C); rejected EVs never appear.
        ev_tariff: what each EV pays per kWh, EUR/kWh, shape (n_evs,): its reservation's
            price when it was served on one, else ``EV_TARIFF``.
        outage: components down per tick, shape (n_exo_ticks, K + S + 1) (``core.layout``).
    """

    date: str
    exo: np.ndarray
    ev: np.ndarray
    connector_ev: np.ndarray
    ev_tariff: np.ndarray
    outage: np.ndarray


class Flexibility(NamedTuple):
    """What the plugged-in fleet can offer from now on (:mod:`evgrid_gym.core.flexibility`
    defines every term).

    Attributes:
        tick: the tick it starts at (the coming one).
        low_kw, high_kw: the least and the most average grid power the fleet must and can
            draw in the coming tick (its outages included), kW; low < 0: it can feed back.
        least_kwh, most_kwh: the grid energy it must and can take by the end of each tick
            ahead, kWh, shape (H,): entry ``h - 1`` is for the ``h`` ticks from ``tick`` on.
    """

    tick: int
    low_kw: float
    high_kw: float
    least_kwh: np.ndarray
    most_kwh: np.ndarray


def float_actions(actions, space: gym.spaces.Box, name: str) -> np.ndarray:
    """``actions`` as an array after checking its shape and float dtype against ``space``.

    Raises:
        ValueError: naming ``name``, the shape and dtype given and what is allowed.
    """
    actions = np.asarray(actions)
    if actions.shape != space.shape or actions.dtype.kind != "f":
        raise ValueError(
            f"{name}: got shape {actions.shape} dtype {actions.dtype}; must be a float array "
            f"of shape {space.shape} with entries in [-1, 1]"
        )
    return actions


def make_renderer(env, render_mode: str | None, index: int | None = None):
    """The env's :class:`~evgrid_gym.viz.renderer.EnvRenderer`, or None when ``render_mode``
    is None (then nothing is imported and stepping pays nothing for rendering).

    Raises:
        ValueError: ``render_mode`` is not None nor one of ``env.metadata["render_modes"]``.
    """
    if render_mode is None:
        return None
    if render_mode not in env.metadata["render_modes"]:
        raise ValueError(
            f"render_mode: got {render_mode!r}; must be None or one of "
            f"{env.metadata['render_modes']}"
        )
    from evgrid_gym.viz.renderer import EnvRenderer

    return EnvRenderer(env, render_mode, index)


def reset_options(options: dict[str, Any] | None) -> tuple[datetime.date | None, str | None]:
    """``(date, split)``: the episode day and the split of ``calendar.splits`` that
    ``reset(options={"date": ...})`` or ``reset(options={"split": ...})`` asks for (None: not
    asked for).

    Raises:
        ValueError: an option other than ``date`` and ``split``, both of them, or a date that
            is not one.
    """
    options = options or {}
    unknown = sorted(set(options) - {"date", "split"})
    if unknown:
        raise ValueError(f"options: unknown keys {unknown}; allowed: ['date', 'split']")
    if "date" in options and "split" in options:
        raise ValueError("options: give 'date' or 'split', not both")
    date = None if options.get("date") is None else parse_date(options["date"])
    return date, options.get("split")


class EVGridEnv(gym.Env):
    """Smart charging of EVs at stations on a local grid with wind, households and BESS.

    ## Description

    A community owns wind turbines, serves households and runs charging stations
    (chargers with one or more connectors, an optional station battery) on one feeder. EVs
    arrive, plug into a free connector of their station, and leave at their departure tick.
    With ``reservation`` on, EVs first reserve a connector by contract net (offers priced by
    utilisation, scored by distance, price and energy; :mod:`evgrid_gym.core.contract_net`),
    and may come late or not at all. With ``faults``, chargers, station links and turbines
    fail at random or scheduled ticks; the tick completes around them (safe fallbacks,
    :mod:`evgrid_gym.core.tick`).
    Each tick (15 min by default) the agent sets the power of every connector (and of each
    station battery); the simulator projects it onto the EV's two-stage CC-CV curve and the
    charger, station and feeder limits, clears the community energy market of seed 000 (own
    wind to the highest bids, the external supplier covers the rest), updates batteries and
    books energy and money. The core is numba-jitted (:mod:`evgrid_gym.core`).

    ## Action Space

    ``Box(-1, 1, (C [+ S],), float32)``: C connectors, then S stations if
    ``action.bess_control`` is true.

    | index | meaning | unit |
    |-------|---------|------|
    | 0..C-1 | connector power / its charger's rated power; < 0 asks for V2G | fraction |
    | C..C+S-1 | station battery power / its rated power; < 0 discharges | fraction |

    Entries are clipped to [-1, 1]; NaN or infinite entries raise ``ValueError``. Negative
    connector entries give V2G only where both EV and charger allow it, otherwise 0. The
    result is then projected onto the limits (rules in :mod:`evgrid_gym.core.projection`).

    ## Observation Space

    A 1-D float32 ``Box`` with finite bounds from the scenario: the concatenation, in
    order, of the blocks of :data:`evgrid_gym.core.observation.BLOCKS` (each feature-major;
    a block with ``when`` only where that feature is on). That table is the only definition
    of the layout: the length, the bounds, the README's observation table (generated from
    it; a test compares them) and the named views of :meth:`evgrid_gym.Scenario.unpack`
    (``scenario.unpack(obs).soc``, ``.bess_soc``, ...) all come from it.

    ## Rewards

    ``reward = sum_i w_i * kpi_i`` over the tick's KPIs (all in ``info``). The default,
    ``profit``: EV tariff revenue - external energy cost + export revenue - unmet-energy
    penalty (EUR/kWh not delivered by departure) - overload penalty (EUR/kWh above station or
    feeder limits, soft mode) + the change of the worth of the energy stored in the station
    batteries. Drivers pay their tariff per kWh into their battery and are paid it per kWh
    of V2G out of it, so cycling energy through an EV only loses the round trip's energy;
    a kWh stored in a BESS is worth its efficiency times ``reward.storage_value_eur_per_kwh``
    (default: the episode's mean external price), so draining a BESS at the end is not free.
    Own wind costs nothing to the community; market payments between members are transfers
    (in ``info``) and cancel out. Other presets: ``cost`` (no revenue), ``satisfaction``
    (-unmet kWh - overload kWh), or ``custom`` weights.

    ## Starting State

    All connectors free, station batteries at their ``initial_soc``, tick 0. Wind, household
    load, prices and EV sessions of the episode are drawn from ``np_random`` (seeded by
    ``reset(seed=...)``); EVs arriving at tick 0 are plugged in.

    ``info`` holds every tick KPI (``core.layout.KPI_NAMES``: energy, money, reservations,
    missed deadlines, outage losses), ``tick``, ``date``, ``connector_ev`` (EV index per
    connector, for the coming tick), ``connector_kw`` (grid power each connector drew in
    the tick just stepped, kW: the EV that drew it is the previous step's ``connector_ev``)
    and per-station results (``station_*``: market results and each station's books, its
    revenue, energy cost, storage value, unmet energy, overload, their penalties and its
    profit, of which the KPIs of the same names are the community's totals); with
    ``flexibility=True`` also ``flexibility_up_kw`` and ``flexibility_down_kw`` (see
    Arguments). The upcoming reservations per station and the components down are in the
    observation (``scenario.unpack(obs)``: ``.reservations``, ``.outage``), each EV's
    reservation in :attr:`reservations`.

    ## Episode End

    Terminated after ``episode_ticks`` ticks; every EV still plugged in departs then and its
    unmet energy is booked. ``info["episode_kpis"]`` holds the episode KPIs on the last step.

    ## Arguments

    ``gymnasium.make("evgrid_gym/EVGrid-v2", scenario="default")``: ``scenario`` is a
    bundled name (``evgrid_gym.bundled_scenarios()``), a YAML path, a dict or a
    :class:`~evgrid_gym.config.ScenarioConfig`. ``flexibility=True`` adds to ``info`` the
    plugged-in fleet's flexibility in the tick just stepped: ``flexibility_up_kw`` and
    ``flexibility_down_kw``, how much more and how much less it could have drawn than it did
    (its power range at the tick's start, :mod:`evgrid_gym.core.flexibility`; 0 after
    ``reset``; ``down`` < 0: it drew less than it must to bring every EV to its goal). It
    costs 2 us a step at 20 connectors, 28 us at 1,000, so it is off by default;
    :meth:`flexibility` gives the envelope ahead on demand.

    ## Rendering

    ``render_mode="rgb_array"``: ``render()`` returns a (768, 1024, 3) uint8 frame (headless,
    PIL): the feeder with wind, households and the external supplier; each station with its
    grid connection, BESS soc, chargers (down ones greyed) and on every occupied connector a
    car with a battery filled to its soc and the last tick's power on its cable (blue
    charging, amber V2G); below, strips of the day so far (wind, households, EV charging,
    BESS, external power, surplus, price). ``"human"`` shows the same frames live in a
    matplotlib window at ``metadata["render_fps"]``. Frames come from
    :mod:`evgrid_gym.viz`; ``gymnasium.wrappers.RecordVideo`` records them (extra ``[viz]``).

    ## Version History

    * v2: no reward from nothing. EV revenue is booked per kWh at the battery (v1: at the
      connector, which paid for cycling energy through an EV by V2G); the BESS's stored
      energy has a value (``storage_value_eur``); a station whose link is down charges each
      connector at most at its charger's power shared by its connectors and is out of the
      feeder's curtailment (v1: its grid capacity per connector, curtailed at the feeder);
      ``battery.pilot: acn`` reads connector powers as ACN-Sim pilots. ``EVGrid-v1`` and
      ``-v0`` are no longer registered: ``gymnasium.make`` names v2. Since then, the env's
      rules unchanged: replayed sessions' departures are rounded down like their arrivals
      (ACN-Sim's convention; they were rounded up), ``caltech_acn`` has its DC fast charger
      and date splits, and ``info`` has ``connector_kw``; EVs may come from archetype users
      (``evs.source: archetypes``, the EV table's ``EV_USER``), :meth:`flexibility` gives
      the fleet's envelope and ``flexibility=True`` adds its up/down power to ``info``;
      ``info`` has each station's books (``station_revenue_eur`` ... ``station_profit_eur``),
      which the stations as agents (:mod:`evgrid_gym.multiagent`) are rewarded with;
      battery degradation (``degradation``, off by default: the dynamics and rewards of
      every scenario unchanged) adds the reward term ``degradation_cost_eur``.
    * v1: charging reservations (contract net) and component outages; the observation gains
      their blocks when a scenario turns them on; ``scenario1_normal`` and
      ``scenario2_high_demand`` run with both. Without them the dynamics are v0's.
    * v0: initial version.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 8}

    def __init__(
        self,
        scenario: str | dict | ScenarioConfig = "default",
        render_mode: str | None = None,
        flexibility: bool = False,
    ):
        self.scenario = Scenario(load_scenario(scenario))
        sc = self.scenario
        self.action_space = gym.spaces.Box(-1.0, 1.0, (sc.n_actions,), np.float32)
        self.observation_space = gym.spaces.Box(
            sc.observation_low, sc.observation_high, dtype=np.float32
        )
        self._state = State.zeros(sc.n_connectors, sc.n_stations)
        self._out = Outputs.zeros(sc.n_stations, sc.observation_low.shape[0])
        self._episode: Episode | None = None
        self._work = np.zeros(
            core.workspace_size(sc.n_connectors, sc.n_chargers, sc.n_stations, sc.n_buses)
        )
        self._flex_work = np.zeros(flex.workspace_size(sc.n_chargers, sc.n_stations))
        self._flexibility_info = bool(flexibility)
        self._power_range_kw = (0.0, 0.0)  # low, high of the coming tick
        self._flexibility_kw = (0.0, 0.0)  # up, down in the tick just stepped
        self._date = ""
        self._ended = False  # the episode reached its last tick (step raises until a reset)
        self.render_mode = render_mode
        self._renderer = make_renderer(self, render_mode)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Starts an episode; ``options={"date": "YYYY-MM-DD"}`` fixes its day,
        ``options={"split": name}`` draws it from that split of ``calendar.splits``
        (default: ``calendar.split``).

        Raises:
            ValueError: an unknown option, both options, a bad date or an unknown split.
        """
        super().reset(seed=seed)
        sc = self.scenario
        date, *episode = sc.sample_episode(self.np_random, *reset_options(options))
        self._date = date.isoformat()
        self._episode = Episode(*episode)
        self._state = self._state.with_evs(self._episode.ev.shape[1])
        # the kernels' arguments, flat in group order (core.state), gathered once an episode
        self._arrays = (*sc.static, *self._episode, *self._state, *self._out)
        core.reset(*self._arrays, self._work, *sc.switches)
        self._ended = False
        if self._flexibility_info:
            self._flexibility_kw = (0.0, 0.0)  # no tick stepped yet
            self._update_power_range()
        if self._renderer is not None:
            self._renderer.record(self)
        return self._out.obs.copy(), self._info(0)

    def step(self, action):
        reward, terminated = self.advance(action)
        info = self._info(int(self._state.clock[L.CLK_TICK]))
        if terminated:
            info["episode_kpis"] = episode_kpis(self._out.kpi_total)
        return self._out.obs.copy(), reward, terminated, False, info

    def advance(self, action: np.ndarray) -> tuple[float, bool]:
        """:meth:`step` without building its observation copy and ``info``: for wrappers
        that read what they need from :attr:`outputs` (the multi-agent env). The
        observation is then ``outputs.obs``, each station's results ``outputs.station_out``.

        Args:
            action: as for :meth:`step`, shape (n_actions,).

        Returns:
            ``(reward, terminated)``.

        Raises:
            RuntimeError: before ``reset``, or after the episode ended.
            ValueError: the action has the wrong shape or type, or a NaN or infinite entry
                (nothing is stepped).
        """
        if self._episode is None:
            raise RuntimeError("call reset() before step()")
        if self._ended:
            raise RuntimeError("the episode has ended (terminated=True); call reset() first")
        action = float_actions(action, self.action_space, "action")
        status, reward = core.step(*self._arrays, action, self._work, *self.scenario.switches)
        if status == core.STATUS_BAD_ACTION:
            bad = np.flatnonzero(~np.isfinite(action)).tolist()
            raise ValueError(
                f"action: entries {bad} are {action[bad].tolist()}; every entry must be a "
                "finite number in [-1, 1]"
            )
        if self._flexibility_info:
            self._report_flexibility()
        tick = int(self._state.clock[L.CLK_TICK])
        terminated = self._ended = tick >= self.scenario.config.episode_ticks
        if self._renderer is not None:
            self._renderer.record(self)
        return reward, terminated

    def render(self) -> np.ndarray | None:
        """The frame of now, (768, 1024, 3) uint8, in ``"rgb_array"`` mode; shows it in
        ``"human"`` mode (returns None). Without a render mode: a warning, None.

        Raises:
            RuntimeError: before the first ``reset``.
        """
        if self._renderer is None:
            gym.logger.warn(
                "render() without a render_mode; create the env with render_mode='rgb_array' "
                "or 'human'"
            )
            return None
        return self._renderer.render()

    def close(self) -> None:
        """Closes the ``"human"`` window, if any."""
        if self._renderer is not None:
            self._renderer.close()

    def _info(self, tick: int) -> dict[str, Any]:
        conn = self._state.conn
        info = dict(zip(L.KPI_NAMES, self._out.kpi.tolist()))  # noqa: B905 (equal lengths)
        info["tick"] = tick
        info["date"] = self._date
        info["connector_ev"] = conn[L.CN_EV].astype(np.int64)
        info["connector_kw"] = conn[L.CN_POWER_KW].copy()
        info.update(zip(STATION_INFO, self._out.station_out.copy()))  # noqa: B905
        if self._flexibility_info:
            info["flexibility_up_kw"], info["flexibility_down_kw"] = self._flexibility_kw
        return info

    def _report_flexibility(self) -> None:
        """How much more and how much less the fleet could have drawn in the tick just
        stepped than it did (its power range, computed at the tick's start); then the range
        of the coming tick."""
        kpi = self._out.kpi
        _, up_kw, down_kw = flex.tick_flexibility_kw(
            kpi[L.KPI_EV_CHARGE], kpi[L.KPI_EV_DISCHARGE], self.scenario.config.dt_h,
            *self._power_range_kw,
        )  # fmt: skip
        self._flexibility_kw = (up_kw, down_kw)
        self._update_power_range()

    def _update_power_range(self) -> None:
        """The power range of the coming tick."""
        tick = int(self._state.clock[L.CLK_TICK])
        self._power_range_kw = flex.power_range_kw(*self._flexibility_arrays(tick), self._flex_work)

    def _flexibility_arrays(self, tick: int) -> tuple:
        """The arguments of :mod:`evgrid_gym.core.flexibility`'s kernels for ``tick``."""
        sc, episode, state = self.scenario, self._episode, self._state
        return (
            sc.cfg, sc.connector_charger, sc.charger_f, sc.charger_station, sc.station_f,
            episode.exo, episode.outage, state.bess_soc, state.conn, tick,
        )  # fmt: skip

    def flexibility(self, horizon_ticks: int | None = None) -> Flexibility:
        """The plugged-in fleet's flexibility from now on: the coming tick's power range and
        the energy envelope over ``horizon_ticks`` ticks (default: until the last plugged-in
        EV leaves; at most to the episode's end).

        Raises:
            RuntimeError: before the first ``reset``.
            ValueError: ``horizon_ticks`` is not an integer in [0, ticks left].
        """
        if self._episode is None:
            raise RuntimeError("call reset() before flexibility()")
        sc, tick, conn = self.scenario, int(self._state.clock[L.CLK_TICK]), self._state.conn
        left = sc.config.episode_ticks - tick
        if horizon_ticks is None:
            occupied = conn[L.CN_OCCUPIED] > 0.0
            last = conn[L.CN_DEPARTURE, occupied].max(initial=tick)
            horizon_ticks = int(min(last - tick, left))
        if not (isinstance(horizon_ticks, int | np.integer) and 0 <= horizon_ticks <= left):
            raise ValueError(
                f"horizon_ticks: got {horizon_ticks!r}; must be an integer in [0, {left}]"
            )
        least, most = np.zeros(horizon_ticks), np.zeros(horizon_ticks)
        args = self._flexibility_arrays(tick)
        flex.fleet_envelope(*args, least, most, self._flex_work)
        low_kw, high_kw = flex.power_range_kw(*args, self._flex_work)
        return Flexibility(tick, low_kw, high_kw, least, most)

    def episode_plan(self) -> EpisodePlan:
        """The whole current episode, for planners with perfect foresight (the optimum).

        A policy that uses it is not causal: RL agents and online heuristics must not. The
        connector schedule comes from a dry run of the core on copies of the state: which EV
        sits where depends only on arrivals and departures, never on the actions.

        Raises:
            RuntimeError: before the first ``reset``.
        """
        if self._episode is None:
            raise RuntimeError("call reset() before episode_plan()")
        sc = self.scenario
        n_ticks = sc.config.episode_ticks
        episode = self._episode
        state = State(*map(np.empty_like, self._state))
        out = Outputs(*map(np.empty_like, self._out))
        core.reset(*sc.static, *episode, *state, *out, self._work, *sc.switches)
        idle = np.zeros(sc.n_actions)
        connector_ev = np.empty((n_ticks, sc.n_connectors), dtype=np.int64)
        for t in range(n_ticks):
            connector_ev[t] = state.conn[L.CN_EV]
            core.step(*sc.static, *episode, *state, *out, idle, self._work, *sc.switches)
        n_evs = episode.ev.shape[1]
        res = state.res[:, :n_evs]
        served = res[L.RS_STATUS] == L.RES_SERVED
        ev_tariff = np.where(served, res[L.RS_PRICE], episode.ev[L.EV_TARIFF])
        return EpisodePlan(
            self._date, readonly(episode.exo), readonly(episode.ev), readonly(connector_ev),
            readonly(ev_tariff), readonly(episode.outage),
        )  # fmt: skip

    @property
    def reservations(self) -> np.ndarray:
        """Every EV's reservation now, shape (N_RES_FIELDS, n_evs) in the order of
        ``episode_plan().ev``, read-only and following the env (copy it to keep it):
        ``core.layout.RS_*`` fields, status ``RES_*``, reserved connector (-1 = none), agreed
        price EUR/kWh, energy offered kWh. All ``RES_NONE`` with reservations off."""
        n_evs = 0 if self._episode is None else self._episode.ev.shape[1]
        return readonly(self._state.res[:, :n_evs])

    @property
    def kpi_total(self) -> np.ndarray:
        """Episode totals so far, shape (N_KPI,), read-only (see ``layout.KPI_NAMES``)."""
        return readonly(self._out.kpi_total)

    @property
    def date(self) -> str:
        """The episode's day, ISO format ("" before the first reset)."""
        return self._date

    @property
    def state(self) -> State:
        """The state now, read-only views that follow the env (copy them to keep them): the
        :class:`~evgrid_gym.core.state.State` group (connectors, reservations, BESS soc,
        clock), for tools that show or serve the simulation (rendering, the service)."""
        return State(*map(readonly, self._state))

    @property
    def outputs(self) -> Outputs:
        """The last tick's outputs, read-only views that follow the env: the
        :class:`~evgrid_gym.core.state.Outputs` group (KPIs, totals, per-station results,
        observation)."""
        return Outputs(*map(readonly, self._out))

    @property
    def episode(self) -> Episode | None:
        """The current episode's inputs (read-only views; None before the first reset): the
        :class:`~evgrid_gym.core.state.Episode` group. Perfect foresight: see
        :meth:`episode_plan`."""
        return None if self._episode is None else Episode(*map(readonly, self._episode))
