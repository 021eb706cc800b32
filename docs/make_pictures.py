"""Writes the README's pictures: a rendered frame, a screenshot of the dashboard and two
figures of ``evgrid-gym plot``.

    python docs/make_pictures.py

The frame: ``default`` under ``edf``, seed 0, at 18:00. The screenshot: the dashboard of
``scenario1_normal`` after 60 ticks, taken by Debian's headless ``chromium`` through
Playwright (skipped when chromium is missing). The figures: ``residential_archetypes`` under
``alap``, seed 0 (``simulate --log``, then ``plot``). Pictures are stored with a 256-colour
palette.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
from PIL import Image

import evgrid_gym  # noqa: F401  (registers the env)
from baselines import make_policy

DOCS = Path(__file__).resolve().parent


def save(image: Image.Image, name: str) -> None:
    path = DOCS / name
    image.convert("RGB").quantize(colors=256).save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


def frame(scenario: str, ticks: int, name: str, **reset_options) -> None:
    env = gym.make("evgrid_gym/EVGrid-v2", scenario=scenario, render_mode="rgb_array")
    policy = make_policy("edf", env.unwrapped.scenario)
    observation, info = env.reset(seed=0, options=reset_options or None)
    policy.reset(seed=0)
    for _ in range(ticks):
        observation, _, _, _, info = env.step(policy.act(observation, info))
    save(Image.fromarray(env.render()), name)


def dashboard_screenshot(name: str) -> None:
    from baselines.benchmark import policy_factories
    from evgrid_gym.config import load_scenario
    from evgrid_gym.viz.dashboard.app import create_app
    from evgrid_gym.viz.dashboard.headless import chromium_page, chromium_path, served

    if chromium_path() is None:
        print("no chromium: skipped the dashboard screenshot", file=sys.stderr)
        return
    app = create_app(load_scenario("scenario1_normal"), policy_factories(["all"]), "edf", 20.0)
    with served(app) as url, chromium_page() as page, tempfile.TemporaryDirectory() as tmp:
        page.goto(url)
        page.wait_for_function("() => window.dashboard && dashboard.tick >= 60", timeout=120_000)
        page.click("#play")
        time.sleep(0.5)
        shot = Path(tmp) / "shot.png"
        page.screenshot(path=str(shot), full_page=True)
        save(Image.open(shot), name)


def log_figures(scenario: str, policy: str, names: dict[str, str]) -> None:
    from evgrid_gym.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        flags = ["--scenario", scenario, "--policy", policy, "--seed", "0", "--log", tmp]
        assert main(["simulate", *flags]) == 0 and main(["plot", tmp]) == 0
        for figure, name in names.items():
            save(Image.open(Path(tmp) / f"{figure}.png"), name)


if __name__ == "__main__":
    frame("default", 72, "frame_default.png")
    frame("caltech_acn", 48, "frame_caltech_acn.png", date="2019-05-13")
    dashboard_screenshot("dashboard.png")
    log_figures(
        "residential_archetypes", "alap",
        {"soc_by_archetype": "plot_soc_by_archetype.png", "flexibility": "plot_flexibility.png"},
    )  # fmt: skip
