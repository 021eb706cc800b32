"""One episode of a policy, stepped on request, each tick as the dashboard's JSON."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Callable
from typing import Any

from evgrid_gym.config import ScenarioConfig
from evgrid_gym.envs import EVGridEnv
from evgrid_gym.kpis import EPISODE_KPIS, episode_kpis, reward_unit
from evgrid_gym.viz.events import tick_events
from evgrid_gym.viz.frame import FrameDrawer
from evgrid_gym.viz.market import market_of_tick
from evgrid_gym.viz.state import FrameState, flows, frame_state

GRID_IMAGE_SIZE = (960, 500)
"""Width and height of the community picture on the page, pixels."""

COUNTERS = (
    ("reservation_requests", "requests"),
    ("reservations_confirmed", "confirmed"),
    ("reservations_rejected", "rejected"),
    ("reservations_served", "served"),
    ("no_shows", "no-shows"),
    ("reservations_cancelled", "cancelled"),
    ("rejected_arrivals", "turned away"),
    ("missed_deadlines", "missed deadlines"),
)
"""Episode totals counted on the page: reservations, walk-ins turned away, link outages."""


class EpisodeEnded(Exception):
    """``step`` after the episode's last tick."""


def png_data_url(image) -> str:
    """A PIL image as a ``data:image/png;base64,...`` URL (fast compression)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class EpisodePlayer:
    """Plays one episode of a policy on a scenario, one tick per :meth:`step`.

    Thread-safe: the web app may call it from several worker threads.

    Args:
        config: the scenario.
        policy_name: shown on the page.
        make_policy: builds the policy from the env's scenario (``baselines`` factories).
        seed: the episode's seed (env and policy).
    """

    def __init__(self, config: ScenarioConfig, policy_name: str, make_policy: Callable, seed: int):
        self.env = EVGridEnv(config)
        self.policy_name = policy_name
        self.policy = make_policy(self.env.scenario)
        self.seed = seed
        self.drawer = FrameDrawer(self.env.scenario, GRID_IMAGE_SIZE, grid_only=True)
        self._lock = threading.Lock()
        self._observation, self._info = self.env.reset(seed=seed)
        plan = self.env.episode_plan() if self.policy.perfect_foresight else None
        self.policy.reset(seed=seed, plan=plan)
        self.state = frame_state(self.env)
        self.done = False
        self.reward = 0.0
        self.reward_unit = reward_unit(config.reward.kpi_weights)

    def first(self) -> dict[str, Any]:
        """The payload of the episode's start (no tick run yet)."""
        with self._lock:
            return self._payload(None)

    def step(self) -> dict[str, Any]:
        """Runs one tick with the policy's action and returns its payload.

        Raises:
            EpisodeEnded: the episode is over.
        """
        with self._lock:
            if self.done:
                raise EpisodeEnded("the episode has ended; start a new one")
            action = self.policy.act(self._observation, self._info)
            self._observation, reward, self.done, _, self._info = self.env.step(action)
            self.reward += reward
            before, self.state = self.state, frame_state(self.env)
            return self._payload(before)

    def _payload(self, before: FrameState | None) -> dict[str, Any]:
        state = self.state
        kpis = episode_kpis(state.kpi_total)
        return {
            "tick": state.tick,
            "time": state.clock(),
            "date": state.date,
            "done": self.done,
            "reward": self.reward,
            "reward_unit": self.reward_unit,
            "grid_png": png_data_url(self.drawer.image(state)),
            "flows": None if before is None else flows(state),
            "market": None if before is None else market_of_tick(before, state),
            "events": [] if before is None else tick_events(before, state),
            "kpis": [
                {"name": kpi.label, "value": kpis[kpi.name], "unit": kpi.unit}
                for kpi in EPISODE_KPIS
                if kpi.dashboard
            ],
            "counters": [
                {"name": label, "value": state.kpi_value(key, total=True)}
                for key, label in COUNTERS
            ]
            + [{"name": "components down", "value": int((state.outage[:-1] > 0).sum())}],
        }
