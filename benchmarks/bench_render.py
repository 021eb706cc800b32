"""Speed of rendering: ``render()`` frames per second and the dashboard's ticks per second.

For ``default``, ``caltech_acn`` and a 1,000-connector scenario (``bench_step``'s scaling):
frames/s of ``env.render()`` in ``rgb_array`` mode (one frame, 1024 x 768, drawn again and
again mid-episode), steps/s of ``step`` + ``render`` over whole episodes (what
``RecordVideo`` asks for; the video encoding itself is not timed), and ticks/s of the
dashboard's episode player (step, frame state, market, events and the PNG of the community).
Best of 3 runs each. Rendering off costs nothing: compare ``bench_step.py`` with and without
this package's ``viz``.

    python benchmarks/bench_render.py
"""

from __future__ import annotations

import time

import gymnasium as gym
from bench_step import cpu_name, scaled_scenario

import evgrid_gym  # noqa: F401  (registers the env)

SCENARIOS = {"default": "default", "caltech_acn": "caltech_acn", "1,000 connectors": None}


def best_rate(run, repeats: int = 3) -> float:
    """Best of ``repeats`` calls of ``run() -> (count, seconds)``, as count per second."""
    return max(count / seconds for count, seconds in (run() for _ in range(repeats)))


def frames_per_second(env, n_frames: int = 60) -> float:
    env.reset(seed=0)
    for _ in range(48):
        env.step(env.action_space.sample())

    def run():
        start = time.perf_counter()
        for _ in range(n_frames):
            env.render()
        return n_frames, time.perf_counter() - start

    return best_rate(run)


def steps_with_render_per_second(env) -> float:
    def run():
        env.reset(seed=1)
        env.render()
        start, n, done = time.perf_counter(), 0, False
        while not done:
            done = env.step(env.action_space.sample())[2]
            env.render()
            n += 1
        return n, time.perf_counter() - start

    return best_rate(run)


def dashboard_ticks_per_second(scenario) -> float | None:
    try:
        from baselines.benchmark import policy_factories
        from evgrid_gym.config import load_scenario
        from evgrid_gym.viz.dashboard.player import EpisodePlayer
    except ImportError:  # no [dashboard] extra
        return None
    config = load_scenario(scenario)
    factory = policy_factories(["edf"])["edf"]

    def run():
        player = EpisodePlayer(config, "edf", factory, seed=0)
        start, n = time.perf_counter(), 0
        while not player.done:
            player.step()
            n += 1
        return n, time.perf_counter() - start

    return best_rate(run)


def main() -> None:
    print(f"CPU: {cpu_name()}\n")
    print("| scenario | connectors | render() frames/s | step + render steps/s "
          "| dashboard ticks/s |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    for label, name in SCENARIOS.items():
        scenario = name if name is not None else scaled_scenario(1000)
        env = gym.make("evgrid_gym/EVGrid-v2", scenario=scenario, render_mode="rgb_array")
        fps = frames_per_second(env)
        sps = steps_with_render_per_second(env)
        dashboard = dashboard_ticks_per_second(scenario)
        shown = "-" if dashboard is None else f"{dashboard:,.0f}"
        print(f"| {label} | {env.unwrapped.scenario.n_connectors} | {fps:,.0f} | {sps:,.0f} "
              f"| {shown} |")  # fmt: skip


if __name__ == "__main__":
    main()
