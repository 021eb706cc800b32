"""The dashboard's web app (FastAPI): the page, Plotly.js from the ``plotly`` package, and a small
JSON API that starts episodes and steps them.

API:
    ``GET /api/setup``: scenario, policies, defaults and the flow series (names, labels, colours).
    ``POST /api/episodes`` ``{"policy": str, "seed": int >= 0}``: starts an episode; 201 with
    ``{"id", "policy", "seed", "frame"}`` (``frame``: the payload of
    :class:`~evgrid_gym.viz.dashboard.player.EpisodePlayer`). 422 names a bad field (or says
    why the policy could not be built).
    ``POST /api/episodes/{id}/step``: runs one tick; 200 with its payload, 404 for an unknown
    (or evicted) episode, 409 once the episode has ended.

At most :data:`MAX_EPISODES` episodes are kept; starting another drops the oldest.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from evgrid_gym.config import ScenarioConfig
from evgrid_gym.viz import style
from evgrid_gym.viz.dashboard.player import EpisodeEnded, EpisodePlayer
from evgrid_gym.viz.state import FLOW_NAMES

STATIC = Path(__file__).with_name("static")
MAX_EPISODES = 4


class EpisodeRequest(BaseModel):
    """Body of ``POST /api/episodes``."""

    model_config = ConfigDict(extra="forbid")
    policy: str
    seed: int = Field(0, ge=0)


def plotly_js() -> Path:
    """``plotly.min.js`` of the installed ``plotly`` package."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _scenario_setup(config: ScenarioConfig) -> dict:
    """What the page needs to know of the scenario and of the flow series it plots."""
    return {
        "scenario": config.name,
        "description": config.description,
        "episode_ticks": config.episode_ticks,
        "dt_h": config.dt_h,
        "flows": [
            {
                "name": name,
                "label": style.SERIES_LABELS[name],
                "colour": style.hex_colour(style.SERIES_COLOURS[name]),
            }
            for name in FLOW_NAMES
        ],
    }


def create_app(
    config: ScenarioConfig,
    policies: dict[str, Callable],
    policy: str,
    speed: float = 10.0,
    seed: int = 0,
) -> FastAPI:
    """The dashboard app for one scenario.

    Args:
        config: the scenario every episode runs on.
        policies: name -> factory of the policies the page offers (``baselines`` factories).
        policy: the policy selected when the page opens.
        speed: ticks per second when the page opens.
        seed: the seed of the first episode.

    Raises:
        ValueError: ``policy`` is not in ``policies``, ``speed`` is not > 0 or ``seed`` < 0.
    """
    if policy not in policies:
        raise ValueError(f"policy: got {policy!r}; must be one of {sorted(policies)}")
    if not speed > 0:
        raise ValueError(f"speed: got {speed!r}; must be > 0 ticks per second")
    if seed < 0:
        raise ValueError(f"seed: got {seed!r}; must be >= 0")
    app = FastAPI(title=f"evgrid_gym dashboard: {config.name}")
    episodes: OrderedDict[str, EpisodePlayer] = OrderedDict()
    lock = threading.Lock()
    ids = itertools.count(1)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/plotly.min.js", include_in_schema=False)
    def plotly() -> FileResponse:
        return FileResponse(plotly_js(), media_type="text/javascript")

    @app.get("/api/setup")
    def setup() -> dict:
        return {"policies": sorted(policies), "policy": policy, "speed": speed, "seed": seed,
                **_scenario_setup(config)}  # fmt: skip

    @app.post("/api/episodes", status_code=201)
    def start(request: EpisodeRequest) -> dict:
        if request.policy not in policies:
            raise HTTPException(
                422, f"policy: got {request.policy!r}; must be one of {sorted(policies)}"
            )
        try:
            player = EpisodePlayer(config, request.policy, policies[request.policy], request.seed)
        except (ValueError, FileNotFoundError) as err:  # e.g. an agent that does not load
            raise HTTPException(422, str(err)) from None
        with lock:
            episode_id = str(next(ids))
            episodes[episode_id] = player
            while len(episodes) > MAX_EPISODES:
                episodes.popitem(last=False)
        return {"id": episode_id, "policy": request.policy, "seed": request.seed,
                "frame": player.first()}  # fmt: skip

    @app.post("/api/episodes/{episode_id}/step")
    def step(episode_id: str) -> dict:
        with lock:
            player = episodes.get(episode_id)
        if player is None:
            raise HTTPException(404, f"episode {episode_id!r}: unknown or dropped; start one")
        try:
            return player.step()
        except EpisodeEnded as err:
            raise HTTPException(409, str(err)) from None

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
