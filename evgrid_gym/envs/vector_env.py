"""``EVGridVectorEnv``: N copies of a scenario stepped together by the numba core."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from evgrid_gym.arrays import readonly
from evgrid_gym.config import ScenarioConfig, load_scenario
from evgrid_gym.core import batch as core
from evgrid_gym.core import flexibility as flex
from evgrid_gym.core import layout as L
from evgrid_gym.core.state import Episode, Outputs, State
from evgrid_gym.envs.evgrid_env import (
    EVGridEnv,
    float_actions,
    make_renderer,
    reset_options,
)
from evgrid_gym.kpis import episode_kpis
from evgrid_gym.scenario import Scenario


class EVGridVectorEnv(VectorEnv):
    """N copies of ``EVGrid-v2`` stepped by one compiled call (``parallel=True`` over envs).

    Each copy behaves exactly like a single :class:`~evgrid_gym.envs.EVGridEnv` seeded the
    same way (a test checks observations, rewards and terminations step by step across
    autoresets, in both modes): env ``i`` draws its episodes from its own generator, seeded
    with ``seed + i`` by ``reset(seed=seed)`` or with ``seed[i]`` for a list of seeds.
    ``reset(options={"date": "YYYY-MM-DD"})`` starts every env on that day (later episodes
    draw their days as usual); ``reset(options={"split": name})`` draws every episode from
    that split of ``calendar.splits`` from then on.

    Autoreset, chosen at construction (``metadata["autoreset_mode"]``):

    - ``AutoresetMode.NEXT_STEP`` (the default, Gymnasium's): the step on which env ``i``
      terminates returns its last observation and info (with ``infos["episode_kpis"]``, mask
      ``infos["_episode_kpis"]``); the next step ignores env ``i``'s action and returns the
      first observation of its next episode, reward 0, the reset's info. Gymnasium's vector
      wrappers (``NormalizeObservation``, ``RecordEpisodeStatistics``, ...) need this mode.
    - ``AutoresetMode.SAME_STEP`` (what Stable-Baselines3 expects,
      :class:`~evgrid_gym.rl.sb3_vec_env.SB3VecEnv`): the terminating step already returns
      the first observation of the next episode; the finished episode's last observation is
      ``infos["final_obs"][i]`` and its last info is in ``infos["final_info"]``, a dict of
      arrays over envs (``infos["final_info"]["episode_kpis"]``), masks ``_key`` marking the
      finished envs; the rest of ``infos`` describes the new episode's reset. This is the
      layout Gymnasium's ``SyncVectorEnv`` builds in that mode.

    ``infos`` holds every tick KPI, ``tick`` and ``date`` as arrays of shape (N,), and with
    ``flexibility=True`` ``flexibility_up_kw`` and ``flexibility_down_kw`` (as
    :class:`~evgrid_gym.envs.EVGridEnv`'s; 0 for an env that just started an episode).

    The envs run on numba's threads (:mod:`evgrid_gym.core.parallel`: TBB where installed;
    ``numba.set_num_threads`` limits them).

    Rendering (``render_mode`` as :class:`~evgrid_gym.envs.EVGridEnv`): copy
    ``render_env_index`` only; ``render()`` returns a 1-tuple with its frame (``"rgb_array"``).
    With same-step autoreset, the last tick of a finished episode is not drawn.

    Args:
        num_envs: number of copies N.
        scenario: bundled name, YAML path, dict or :class:`~evgrid_gym.config.ScenarioConfig`.
        render_mode: None, ``"rgb_array"`` or ``"human"``.
        render_env_index: the copy that is rendered, 0..N-1.
        autoreset_mode: ``AutoresetMode.NEXT_STEP`` or ``SAME_STEP`` (or their values,
            ``"NextStep"``, ``"SameStep"``).
        flexibility: add the fleets' flexibility of the tick just stepped to ``infos``.

    Raises:
        ValueError: ``num_envs`` < 1, another autoreset mode, an unknown render mode or a
            ``render_env_index`` outside the copies.

    Created by ``gymnasium.make_vec("evgrid_gym/EVGrid-v2", num_envs=N,
    vectorization_mode="vector_entry_point", scenario=..., autoreset_mode=...)``.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP} | EVGridEnv.metadata
    _renderer = None  # set by __init__; None also when __init__ failed before (close() runs)

    def __init__(
        self,
        num_envs: int = 1,
        scenario: str | dict | ScenarioConfig = "default",
        render_mode: str | None = None,
        render_env_index: int = 0,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        flexibility: bool = False,
    ):
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs: got {num_envs!r}; must be an integer >= 1")
        if not isinstance(render_env_index, int) or not 0 <= render_env_index < num_envs:
            raise ValueError(
                f"render_env_index: got {render_env_index!r}; must be an integer in "
                f"[0, {num_envs - 1}]"
            )
        self.metadata = type(self).metadata | {"autoreset_mode": _autoreset_mode(autoreset_mode)}
        self.scenario = sc = Scenario(load_scenario(scenario))
        self.num_envs = n = num_envs
        self.single_action_space = gym.spaces.Box(-1.0, 1.0, (sc.n_actions,), np.float32)
        self.single_observation_space = gym.spaces.Box(
            sc.observation_low, sc.observation_high, dtype=np.float32
        )
        self.action_space = batch_space(self.single_action_space, n)
        self.observation_space = batch_space(self.single_observation_space, n)
        self._state = State.zeros(sc.n_connectors, sc.n_stations, n_evs=1, n_envs=n)
        self._out = Outputs.zeros(sc.n_stations, sc.observation_low.shape[0], n_envs=n)
        self._work = core.workspace(sc.n_connectors, sc.n_chargers, sc.n_stations, sc.n_buses)
        self._episode = Episode.zeros(sc.n_exo_ticks, sc.n_chargers, sc.n_stations, n)
        self._status = np.zeros(n, dtype=np.int64)
        self._rewards = np.zeros(n)
        self._rngs: list[np.random.Generator | None] = [None] * n
        self._dates = np.full(n, "", dtype="<U10")  # ISO dates
        self._ended = np.zeros(n, dtype=bool)  # NEXT_STEP: envs that restart on the next step
        self._split: str | None = None  # the split episodes are drawn from (reset option)
        self._flexibility_info = bool(flexibility)
        self._flex_work = np.zeros(flex.workspace_size(sc.n_chargers, sc.n_stations))
        self._power_range_kw = np.zeros((n, 2))  # low, high of each env's coming tick
        self._flexibility_kw = np.zeros((n, 2))  # up, down in the tick each env just stepped
        keys = (*L.KPI_NAMES, "tick", "date")
        if self._flexibility_info:
            keys += ("flexibility_up_kw", "flexibility_down_kw")
        all_envs = np.ones(n, dtype=bool)
        self._info_masks = {f"_{key}": all_envs for key in keys}
        self.render_mode = render_mode
        self._renderer = make_renderer(self, render_mode, render_env_index)

    def reset(self, *, seed: int | list[int | None] | None = None, options=None):
        """Resets every env; ``seed`` int -> env i gets ``seed + i``; a list gives each its own;
        ``options={"date": "YYYY-MM-DD"}`` starts every env on that day,
        ``options={"split": name}`` draws the episodes from that split.

        Raises:
            ValueError: a seed list of the wrong length, an unknown option or a bad date
                (nothing is reset).
        """
        date, split = reset_options(options)
        if seed is None or isinstance(seed, int):
            seeds = [None if seed is None else seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise ValueError(f"seed: got {len(seeds)} seeds; must give num_envs = {self.num_envs}")
        for i, s in enumerate(seeds):
            self._rngs[i], _ = seeding.np_random(s)
        self._new_observations()
        self._ended[:] = False
        self._split = split
        self._start_episodes(np.arange(self.num_envs), date)
        if self._renderer is not None:
            self._renderer.record(self)
        return self._out.obs, self._infos()

    def _start_episodes(self, envs: np.ndarray, date=None) -> None:
        """Starts the next episode of each env in ``envs`` (int64 indices), on ``date`` if
        given: draws it from the env's own generator, then resets them all in one compiled
        call."""
        sc = self.scenario
        for i in envs:
            date_i, exo, ev, outage = sc.sample_episode(self._rngs[i], date, self._split)
            self._dates[i] = date_i.isoformat()
            self._episode.exo[i] = exo
            self._episode.outage[i] = outage
            n_evs = ev.shape[1]
            if n_evs > self._episode.ev.shape[2]:
                self._grow_ev_tables(2 * n_evs)
            self._episode.ev[i, :, :n_evs] = ev
            self._episode.ev[i, :, n_evs:] = np.inf
        core.reset_batch(
            *sc.static, *self._episode, *self._state, *self._out, self._work, envs, *sc.switches
        )
        if self._flexibility_info:
            self._flexibility_kw[envs] = 0.0  # nothing stepped yet
            self._update_power_range(envs)

    def _grow_ev_tables(self, n_evs: int) -> None:
        """Room for ``n_evs`` EVs in every copy's EV table (padded with +inf, EVs that never
        come) and reservation table."""
        ev = np.full((self.num_envs, L.N_EV_FIELDS, n_evs), np.inf)
        ev[:, :, : self._episode.ev.shape[2]] = self._episode.ev
        self._episode = self._episode._replace(ev=ev)
        self._state = self._state.with_evs(n_evs)

    def _new_observations(self) -> None:
        """A fresh observation array for the next step or reset: the caller keeps the last one
        (no env writes to it later), so it is returned without a copy."""
        self._out = self._out._replace(obs=np.empty_like(self._out.obs))

    def _update_power_range(self, envs: np.ndarray) -> None:
        """The power range of the coming tick of each env in ``envs`` (int64 indices)."""
        sc, episode, state = self.scenario, self._episode, self._state
        flex.power_range_batch_kw(
            sc.cfg, sc.connector_charger, sc.charger_f, sc.charger_station, sc.station_f,
            episode.exo, episode.outage, state.bess_soc, state.conn, state.clock, envs,
            self._power_range_kw, self._flex_work,
        )  # fmt: skip

    def _report_flexibility(self, stepped: np.ndarray) -> None:
        """The flexibility of the envs ``stepped`` (int64 indices) in the tick they just ran:
        their power range then against what they drew; then their coming tick's range."""
        kpi, range_kw = self._out.kpi[stepped], self._power_range_kw[stepped]
        _, up_kw, down_kw = flex.tick_flexibility_kw(
            kpi[:, L.KPI_EV_CHARGE], kpi[:, L.KPI_EV_DISCHARGE], self.scenario.config.dt_h,
            range_kw[:, 0], range_kw[:, 1],
        )  # fmt: skip
        self._flexibility_kw[stepped] = np.column_stack([up_kw, down_kw])
        self._update_power_range(stepped)

    def step(self, actions):
        """Steps every env with ``actions`` of shape (N, n_actions) (see ``EVGridEnv.step``);
        in ``NEXT_STEP`` mode an env that ended on the last step restarts instead.

        Raises:
            RuntimeError: before ``reset``.
            ValueError: wrong shape or dtype, or a NaN / infinite entry (nothing is stepped).
        """
        result = self._step(actions)
        if self._renderer is not None:
            self._renderer.record(self)
        return result

    def _step(self, actions):
        if self._rngs[0] is None:
            raise RuntimeError("call reset() before step()")
        actions = float_actions(actions, self.action_space, "actions")
        if not np.isfinite(actions).all():
            bad = np.argwhere(~np.isfinite(actions))[:5].tolist()
            raise ValueError(
                f"actions: non-finite entries at [env, index] {bad}; every entry must be a "
                "finite number in [-1, 1]"
            )
        sc = self.scenario
        restarting = np.flatnonzero(self._ended)
        self._new_observations()
        core.step_batch(
            *sc.static, *self._episode, *self._state, *self._out, actions, self._status,
            self._rewards, self._work, ~self._ended, *sc.switches,
        )  # fmt: skip
        if self._flexibility_info:
            self._report_flexibility(np.flatnonzero(~self._ended))
        rewards = self._rewards.copy()
        if restarting.size:
            self._start_episodes(restarting)
            rewards[restarting] = 0.0
        terminated = self._state.clock[:, L.CLK_TICK] >= sc.config.episode_ticks
        truncated = np.zeros(self.num_envs, dtype=bool)
        infos = self._infos()
        if not terminated.any():
            self._ended[:] = False
            return self._out.obs, rewards, terminated, truncated, infos
        episode = _masked(episode_kpis(self._out.kpi_total), terminated)
        if self.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP:
            self._ended = terminated
            infos.update(episode_kpis=episode, _episode_kpis=terminated)
            return self._out.obs, rewards, terminated, truncated, infos
        done = np.flatnonzero(terminated)
        final_obs = np.full(self.num_envs, None, dtype=object)
        for i, last in zip(done, self._out.obs[done], strict=True):
            final_obs[i] = last
        final_info = _masked(infos, terminated) | {
            "episode_kpis": episode,
            "_episode_kpis": terminated,
        }
        self._start_episodes(done)
        infos = self._infos()  # finished envs report their new episode's reset info
        infos.update(
            final_obs=final_obs, _final_obs=terminated, final_info=final_info,
            _final_info=terminated,
        )  # fmt: skip
        return self._out.obs, rewards, terminated, truncated, infos

    @property
    def state(self) -> State:
        """Every copy's state now, read-only views with a leading env axis (see
        :attr:`evgrid_gym.envs.EVGridEnv.state`); EV tables padded (``episode``)."""
        return State(*map(readonly, self._state))

    @property
    def outputs(self) -> Outputs:
        """Every copy's last outputs, read-only views with a leading env axis."""
        return Outputs(*map(readonly, self._out))

    @property
    def episode(self) -> Episode:
        """Every copy's episode inputs, read-only views with a leading env axis; the EV
        tables are padded with +inf (EVs that never come)."""
        return Episode(*map(readonly, self._episode))

    @property
    def dates(self) -> np.ndarray:
        """Each copy's episode day, ISO format, shape (N,) (a copy)."""
        return self._dates.copy()

    def render(self) -> tuple[np.ndarray] | None:
        """``(frame,)``: the frame of copy ``render_env_index`` in ``"rgb_array"`` mode, (768,
        1024, 3) uint8; shows it in ``"human"`` mode (returns None). Without a render mode: a
        warning, None.

        Raises:
            RuntimeError: before ``reset``.
        """
        if self._renderer is None:
            gym.logger.warn("render() without a render_mode; create the vector env with one")
            return None
        frame = self._renderer.render()
        return None if frame is None else (frame,)

    def close_extras(self, **kwargs) -> None:
        """Closes the ``"human"`` window, if any."""
        if self._renderer is not None:
            self._renderer.close()

    def _infos(self) -> dict[str, Any]:
        """Tick KPIs, tick and date of every env, each with its ``_key`` mask (all True)."""
        infos: dict[str, Any] = dict(zip(L.KPI_NAMES, self._out.kpi.copy().T, strict=True))
        infos["tick"] = self._state.clock[:, L.CLK_TICK].copy()
        infos["date"] = self._dates.copy()
        if self._flexibility_info:
            infos["flexibility_up_kw"] = self._flexibility_kw[:, 0].copy()
            infos["flexibility_down_kw"] = self._flexibility_kw[:, 1].copy()
        infos.update(self._info_masks)
        return infos


def _autoreset_mode(value: AutoresetMode | str) -> AutoresetMode:
    """``value`` as an :class:`AutoresetMode`, NEXT_STEP or SAME_STEP (or their values).

    Raises:
        ValueError: any other value, naming the allowed ones.
    """
    allowed = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)
    for mode in allowed:
        if value == mode or value == mode.value:
            return mode
    raise ValueError(
        f"autoreset_mode: got {value!r}; must be gymnasium.vector.AutoresetMode.NEXT_STEP or "
        f"SAME_STEP (or their values {[m.value for m in allowed]})"
    )


def _masked(values: dict[str, Any], mask: np.ndarray) -> dict[str, Any]:
    """``values`` (arrays over envs) with every ``_key`` mask set to ``mask``, Gymnasium's
    vector-info layout."""
    out = {key: value for key, value in values.items() if not key.startswith("_")}
    return out | {f"_{key}": mask for key in list(out)}
