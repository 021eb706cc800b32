"""``EVGridParallelEnv``: the stations of a scenario as agents (PettingZoo's Parallel API)."""

from __future__ import annotations

import copy
import math
import warnings
from typing import Any

import numpy as np
from pettingzoo import ParallelEnv

from evgrid_gym.config import ScenarioConfig
from evgrid_gym.core import layout as L
from evgrid_gym.envs.evgrid_env import STATION_INFO, EVGridEnv, float_actions
from evgrid_gym.kpis import episode_kpis
from evgrid_gym.multiagent.station_view import StationView

REWARDS = ("station", "team")
RESET_OPTIONS = ("date", "split")
INFO_KEYS = ("tick", "date", *(name.removeprefix("station_") for name in STATION_INFO))
"""Each agent's ``info`` entries (and ``episode_kpis`` on the last step): the tick and date as
in the single env's ``info``, and the station's results in the tick just stepped, its
``station_*`` entries there without the prefix (``net_kw``, ..., the terms of its profit and
``profit_eur``)."""


class EVGridParallelEnv(ParallelEnv):
    """The stations of an EVGrid scenario as agents, stepped together (PettingZoo Parallel API).

    Seed 000's community with its charging stations as agents: each station decides the power
    of its own connectors (and its BESS) from what it sees of its own site and a shared block
    of exogenous information. Underneath is one :class:`~evgrid_gym.envs.EVGridEnv` (the same
    numba core, one core tick per ``step``): the agents' actions are joined into its action,
    its observation is split per station (:class:`~evgrid_gym.multiagent.station_view.StationView`).

    ## Agents

    One per station, named by the station's ``id`` in the scenario, in scenario order. All
    agents act every tick and leave together when the episode ends (``agents`` is then empty).

    ## Action Space

    The same ``Box(-1, 1, (A,), float32)`` for every agent, A = ``Cmax`` (+ 1 with
    ``action.bess_control``), ``Cmax`` the connectors of the largest station: its connectors'
    powers as fractions of their charger's rated power (< 0: V2G), then its BESS power as a
    fraction of the BESS's rated power. Entries outside [-1, 1] are clipped as in the single
    env; entries of padded slots (a station with fewer connectors, or without a BESS) are
    ignored. The observation's ``action_mask`` marks the entries that act.

    ## Observation Space

    The same ``Box`` for every agent
    (:class:`~evgrid_gym.multiagent.station_view.StationObservation`; named views with
    ``env.station_view.unpack(obs)``):

    | block | length | unit |
    |-------|--------|------|
    | occupied (occupancy mask) | Cmax | 0/1 |
    | EV soc | Cmax | fraction |
    | energy still needed to the target soc | Cmax | kWh |
    | ticks to departure | Cmax | ticks |
    | max average power the EV can take this tick | Cmax | kW |
    | rated power of the connector's charger (0: padding) | Cmax | kW |
    | with faults: the connector's charger down | Cmax | 0/1 |
    | action mask | A | 0/1 |
    | BESS soc | 1 | fraction |
    | headroom: grid + BESS discharge - EVs' max power | 1 | kW |
    | with reservations: confirmed reservations arriving 0-1, 1-2, ... H hours ahead | H | count |
    | with faults: the station's link down | 1 | 0/1 |
    | shared: sin, cos of the time of day | 2 | - |
    | shared: external price now and the next F ticks | F+1 | EUR/kWh |
    | shared: own renewable output now and the next F ticks | F+1 | kW |
    | shared: household load now | 1 | kW |
    | shared, with faults: share of the wind capacity down | 1 | fraction |

    Padded slots are 0. The shared block is ``delay_ticks`` ticks old (that of tick 0 during
    the first ``delay_ticks`` ticks): seed 000's components talk by messages with deadlines,
    and a station may see the community's state late. ``state()`` returns the single env's
    observation (the global state, for centralised critics).

    ## Rewards

    ``reward="station"``: each station's profit in the tick, as the core books it
    (``info["station_profit_eur"]`` of the single env): its EV revenue minus what it pays for
    energy (the community market's pay-as-bid payments to the turbine owner and the external
    supplier's energy) plus the change of worth of its BESS minus its batteries' wear (V2G
    at its connectors, its BESS) minus its own penalties (unmet energy, overload above its
    grid capacity). ``reward="team"``: every agent gets the single env's reward. With the
    ``profit`` reward the two are linked, tick by tick:

        team reward = sum of the station rewards
                      + station_payment_eur + household_payment_eur + export_revenue_eur
                        (the turbine owner's income)
                      - household_payment_eur - the households' external energy cost
                        (the households)
                      - the feeder's overload penalty

    with the households' external energy cost ``energy_cost_eur`` minus the stations'
    ``station_energy_cost_eur`` and the feeder's penalty ``overload_penalty_eur`` minus the
    stations' ``station_overload_penalty_eur`` (``tests/test_multiagent.py`` checks it).

    ## Episode End, Starting State, Version History

    As the single env (``EVGrid-v2``): terminated after ``episode_ticks`` ticks.

    ``infos[agent]``: ``tick``, ``date``, the entries of :data:`INFO_KEYS` and, on the last
    step, ``episode_kpis`` (the community's, as the single env's).

    Args:
        scenario: bundled name, YAML path, dict or :class:`~evgrid_gym.config.ScenarioConfig`.
        reward: ``"station"`` or ``"team"``.
        delay_ticks: how many ticks late the shared block is shown (>= 0).
        render_mode: as the single env's (it draws the whole community).

    Raises:
        ValueError: an unknown ``reward``, a negative or non-integer ``delay_ticks``, or a bad
            scenario (as the single env).
    """

    metadata = EVGridEnv.metadata | {"name": "evgrid_stations_v0", "is_parallelizable": True}

    def __init__(
        self,
        scenario: str | dict | ScenarioConfig = "default",
        reward: str = "station",
        delay_ticks: int = 0,
        render_mode: str | None = None,
    ):
        if reward not in REWARDS:
            raise ValueError(f"reward: got {reward!r}; must be one of {list(REWARDS)}")
        if (
            isinstance(delay_ticks, bool)
            or not isinstance(delay_ticks, int | np.integer)
            or (delay_ticks < 0)
        ):
            raise ValueError(f"delay_ticks: got {delay_ticks!r}; must be an integer >= 0")
        self.env = EVGridEnv(scenario, render_mode=render_mode)
        self.scenario = self.env.scenario
        self.reward, self.delay_ticks, self.render_mode = reward, int(delay_ticks), render_mode
        self.station_view = StationView(self.scenario)
        # the single env's outputs, read-only views that follow it: each station's results
        # of the last tick, shape (N_STATION_OUT, S) (the rows of its info's station_*
        # entries), its observation now (the global state) and the episode's totals
        outputs = self.env.outputs
        self._station_out, self._state, self._kpi_total = (
            outputs.station_out,
            outputs.obs,
            outputs.kpi_total,
        )
        self._tick, self._date = 0, ""
        self.possible_agents = [station.id for station in self.scenario.config.stations]
        self.agents: list[str] = []
        self._live = frozenset(self.possible_agents)
        view = self.station_view
        self.observation_spaces = {a: _copy(view.observation_space) for a in self.possible_agents}
        self.action_spaces = {a: _copy(view.action_space) for a in self.possible_agents}
        self.state_space = self.env.observation_space
        self._actions = np.zeros((len(self.possible_agents), *view.action_space.shape), np.float32)
        # the observations of the last delay_ticks + 1 ticks, tick t in row t % (delay + 1)
        self._history = np.zeros((self.delay_ticks + 1, *self.state_space.shape), np.float32)

    def observation_space(self, agent: str):
        return self.observation_spaces[agent]

    def action_space(self, agent: str):
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        """Starts an episode of the single env; ``options`` as its ``reset`` (``date``,
        ``split``). Other option keys are ignored with a warning (PettingZoo's API test passes
        arbitrary options).

        Raises:
            ValueError: a bad date or split (as the single env).
        """
        options = dict(options or {})
        unknown = sorted(set(options) - set(RESET_OPTIONS))
        if unknown:
            warnings.warn(
                f"options: ignoring unknown keys {unknown}; EVGrid reads {list(RESET_OPTIONS)}",
                UserWarning,
                stacklevel=2,
            )
        observation, info = self.env.reset(
            seed=seed, options={k: options[k] for k in RESET_OPTIONS if k in options}
        )
        self._history[:] = observation
        self._tick, self._date = 0, info["date"]
        self.agents = list(self.possible_agents)
        return self._observations(), self._infos()

    def step(self, actions: dict[str, np.ndarray]):
        """Steps every agent by one tick.

        Raises:
            ValueError: naming the agent: an action missing, an agent that is not live, an
                action that is not a float array of the action space's shape, or one with a
                NaN or infinite entry. Nothing is stepped then.
            RuntimeError: before ``reset`` or after the episode ended.
        """
        if not self.agents:
            raise RuntimeError("no live agents: call reset() (the episode ended, or never began)")
        reward, terminated = self.env.advance(self.station_view.join(self._check(actions)))
        self._tick += 1
        self._history[self._tick % self._history.shape[0]] = self._state
        if self.reward == "station":
            profit = self._station_out[L.SO_PROFIT_EUR].tolist()
            rewards = dict(zip(self.agents, profit, strict=True))
        else:
            rewards = dict.fromkeys(self.agents, float(reward))
        terminations = dict.fromkeys(self.agents, terminated)
        truncations = dict.fromkeys(self.agents, False)
        observations, infos = self._observations(), self._infos()
        if terminated:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        """The single env's observation now (the global state), float32."""
        return self._state.copy()

    def render(self):
        """The single env's frame of the whole community (see :meth:`EVGridEnv.render`)."""
        return self.env.render()

    def close(self) -> None:
        self.env.close()

    def _check(self, actions: dict[str, np.ndarray]) -> np.ndarray:
        """The agents' actions stacked in agent order, shape (S, A), after checking them."""
        if not isinstance(actions, dict):
            raise ValueError(
                f"actions: got {type(actions).__name__}; must be a dict of agent -> action"
            )
        if actions.keys() != self._live:  # all agents live together, until the episode ends
            missing = [a for a in self.agents if a not in actions]
            extra = [a for a in actions if a not in self._live]
            raise ValueError(
                f"actions: missing for agents {missing}, given for agents that are not live "
                f"{extra}; give exactly one action per live agent {self.agents}"
            )
        stacked, shape = self._actions, self._actions.shape[1:]
        for i, agent in enumerate(self.agents):
            action = actions[agent]
            if type(action) is not np.ndarray or action.shape != shape or action.dtype.kind != "f":
                # anything but the expected array: checked (and converted) in full
                action = float_actions(action, self.action_spaces[agent], f"actions[{agent!r}]")
            stacked[i] = action
        if not math.isfinite(stacked.sum()):  # a cheap filter: the sum of finite entries is
            finite = np.isfinite(stacked)  # finite, unless it overflows
            if not finite.all():
                i = int(np.flatnonzero(~finite.all(axis=1))[0])
                bad = np.flatnonzero(~finite[i])
                raise ValueError(
                    f"actions[{self.agents[i]!r}]: entries {bad.tolist()} are "
                    f"{stacked[i, bad].tolist()}; every entry must be a finite number in [-1, 1]"
                )
        return stacked

    def _observations(self) -> dict[str, np.ndarray]:
        # row (tick + 1) % (delay + 1) holds tick - delay (tick 0's until then: reset fills all)
        shared = self._history[(self._tick + 1) % self._history.shape[0]]
        per_station = self.station_view.observe(self._state, shared)
        return dict(zip(self.possible_agents, per_station, strict=True))

    def _infos(self) -> dict[str, dict[str, Any]]:
        head = [self._tick, self._date]
        per_station = self._station_out.T.tolist()
        infos = {
            agent: dict(zip(INFO_KEYS, head + row, strict=True))
            for agent, row in zip(self.possible_agents, per_station, strict=True)
        }
        if self._tick >= self.scenario.config.episode_ticks:  # the episode's end
            kpis = episode_kpis(self._kpi_total)
            for agent_info in infos.values():
                agent_info["episode_kpis"] = kpis
        return infos


def _copy(space):
    """An equal space of its own (each agent seeds and samples its space independently)."""
    return copy.deepcopy(space)
