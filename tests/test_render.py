"""render_mode: frames of the env and the vector env, their layout, history, video and window."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from evgrid_gym import EVGridEnv, EVGridVectorEnv
from evgrid_gym.core import layout as L
from evgrid_gym.viz import style
from evgrid_gym.viz.frame import FRAME_SIZE, FrameDrawer
from evgrid_gym.viz.layout import Box, charger_connectors, station_layouts
from evgrid_gym.viz.state import History, frame_state

ENV_ID = "evgrid_gym/EVGrid-v2"
REPO = Path(__file__).resolve().parents[1]
FRAME_SHAPE = (FRAME_SIZE[1], FRAME_SIZE[0], 3)
SCHEDULED = [{"component": "charger", "index": 1, "start_tick": 2, "duration_ticks": 3}]


def _full_power(env):
    return np.ones(env.action_space.shape, dtype=np.float32)


def test_rgb_array_frames_have_one_fixed_shape_and_show_something(tiny_scenario):
    env = gym.make(ENV_ID, scenario=tiny_scenario(), render_mode="rgb_array")
    env.reset(seed=0)
    frames = [env.render()]
    for _ in range(env.unwrapped.scenario.config.episode_ticks):
        env.step(_full_power(env))
        frames.append(env.render())
    for frame in frames:
        assert frame.shape == FRAME_SHAPE and frame.dtype == np.uint8
    # not blank, and the picture changes as the episode runs
    assert frames[-1].std() > 20 and len(np.unique(frames[-1].reshape(-1, 3), axis=0)) > 50
    assert np.any(frames[0] != frames[-1])


def test_render_without_a_mode_warns_and_returns_none(tiny_scenario):
    env = EVGridEnv(tiny_scenario())
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None


def test_render_before_reset_raises(tiny_scenario):
    env = EVGridEnv(tiny_scenario(), render_mode="rgb_array")
    with pytest.raises(RuntimeError, match="reset"):
        env.render()


def test_rendering_off_imports_and_records_nothing():
    code = textwrap.dedent(
        """
        import sys
        import gymnasium as gym
        import numpy as np
        import evgrid_gym
        env = gym.make("evgrid_gym/EVGrid-v2", scenario="electra_station")
        env.reset(seed=0)
        env.step(np.zeros(env.action_space.shape, np.float32))
        assert env.unwrapped._renderer is None
        print(sorted(m for m in sys.modules if m.startswith(("evgrid_gym.viz", "PIL"))))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _cell_soc_columns(frame: np.ndarray, cell: Box, soc: float) -> int:
    """Columns of ``cell`` holding the battery fill colour of ``soc``."""
    x0, y0, x1, y1 = (round(v) for v in cell.xyxy())
    patch = frame[y0:y1, x0:x1]
    return int(np.all(patch == style.soc_colour(soc), axis=2).any(axis=0).sum())


def test_each_connector_shows_its_own_soc(tiny_scenario):
    env = EVGridEnv(tiny_scenario(), render_mode="rgb_array")
    env.reset(seed=0)
    state = frame_state(env)
    socs = np.array([0.6, 0.0, 0.9, 0.0])  # connectors 1 and 3 free
    occupied = (socs > 0).astype(np.float32)
    observation = state.observation._replace(soc=socs, occupied=occupied)
    state = dataclasses.replace(state, observation=observation, outage=np.zeros_like(state.outage))
    drawer = FrameDrawer(env.scenario)
    frame = drawer.frame(state)
    cells = drawer.stations[0].cells
    widths = [_cell_soc_columns(frame, cell, 0.6) for cell in cells]
    assert widths[1] == widths[3] == 0 and widths[0] > 10 and widths[2] > 10
    assert widths[0] / widths[2] == pytest.approx(0.6 / 0.9, abs=0.05)
    # a charger down (charger 0: connectors 0 and 1) greys its batteries out
    down = dataclasses.replace(state, outage=np.array([1.0, 0.0, 0.0, 0.0]))
    frame = drawer.frame(down)
    assert _cell_soc_columns(frame, cells[0], 0.6) == 0
    assert _cell_soc_columns(frame, cells[2], 0.9) == widths[2]


def _assert_disjoint_inside(boxes: list[Box], area: Box) -> None:
    for box in boxes:
        assert area.x - 1e-6 <= box.x and box.right <= area.right + 1e-6
        assert area.y - 1e-6 <= box.y and box.bottom <= area.bottom + 1e-6
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            overlap_w = min(a.right, b.right) - max(a.x, b.x)
            overlap_h = min(a.bottom, b.bottom) - max(a.y, b.y)
            assert overlap_w <= 1e-6 or overlap_h <= 1e-6, (a, b)


@pytest.mark.parametrize(
    ("stations", "min_cell"),
    [
        ([[1] * 54], (80, 60)),  # caltech_acn: 54 EVSEs, one connector each, stay legible
        ([[2] * 4, [2, 2, 2, 2]], (80, 60)),  # default
        ([[2] * 10] * 50, (4, 4)),  # 1,000 connectors: they still fit
        ([[3, 1, 2], [5]], (80, 60)),  # chargers of different widths
    ],
)
def test_station_layout_fits_without_overlap(stations, min_cell):
    area = Box(200, 50, 800, 480)
    layouts = station_layouts(area, stations, with_bess=True)
    panels = [st.panel for st in layouts]
    _assert_disjoint_inside(panels, area)
    for st, chargers in zip(layouts, stations, strict=True):
        assert len(st.cells) == sum(chargers) and len(st.chargers) == len(chargers)
        _assert_disjoint_inside(st.cells, st.panel)
        assert min(c.w for c in st.cells) >= min_cell[0]
        assert min(c.h for c in st.cells) >= min_cell[1]
        # a charger's connectors sit side by side in one row when a row can hold them
        per_row = max(Counter(c.y for c in st.cells).values())
        first = 0
        for n in chargers:
            row = st.cells[first : first + n]
            if n <= per_row:
                assert len({c.y for c in row}) == 1
                gaps = [b.x - a.right for a, b in zip(row[:-1], row[1:], strict=True)]
                assert np.allclose(gaps, 0.0)
            first += n


def test_charger_connectors_groups_by_station():
    env = EVGridEnv("default")
    sc = env.scenario
    assert charger_connectors(sc.connector_charger, sc.charger_station, sc.n_stations) == [
        [2, 2, 2, 2],
        [2, 2, 2, 2],
    ]


def test_history_adds_up_to_the_episode(rollout):
    # random actions on the default scenario: V2G and BESS flows in both directions
    env = EVGridEnv("default", render_mode="rgb_array")
    trajectory = rollout(env, seed=4)
    history = env._renderer.history
    n_ticks, dt_h = env.scenario.config.episode_ticks, env.scenario.config.dt_h
    totals = env.kpi_total
    assert history.ticks == n_ticks
    assert totals[L.KPI["ev_discharge_grid_kwh"]] > 1.0  # the test sees V2G
    for name, plus, minus in (
        ("ev_kw", "ev_charge_grid_kwh", "ev_discharge_grid_kwh"),
        ("bess_kw", "bess_charge_grid_kwh", "bess_discharge_grid_kwh"),
        ("external_kw", "external_energy_kwh", None),
        ("household_kw", "household_kwh", None),
    ):
        expected = (totals[L.KPI[plus]] - (totals[L.KPI[minus]] if minus else 0.0)) / dt_h
        assert history.series(name).sum() == pytest.approx(expected), name
    rewards = [step[1] for step in trajectory[1:]]
    assert history.reward == pytest.approx(sum(rewards))
    # the price strip holds the supplier's price of each tick
    prices = env.episode_plan().exo[L.EXO_PRICE, :n_ticks]
    np.testing.assert_allclose(history.series("price_eur_per_kwh"), prices)


def test_history_restarts_with_each_episode(tiny_scenario):
    env = EVGridEnv(tiny_scenario(), render_mode="rgb_array")
    env.reset(seed=0)
    for _ in range(3):
        env.step(_full_power(env))
    env.reset(seed=1)
    history: History = env._renderer.history
    assert history.ticks == 0 and history.reward == 0.0 and history.series("ev_kw").size == 0


def test_vector_env_renders_the_chosen_copy_like_a_single_env(tiny_scenario):
    data = tiny_scenario({"faults.scheduled": SCHEDULED})
    envs = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="vector_entry_point",
                        scenario=data, render_mode="rgb_array", render_env_index=2)  # fmt: skip
    single = gym.make(ENV_ID, scenario=data, render_mode="rgb_array")
    envs.reset(seed=10)
    single.reset(seed=12)
    rng = np.random.default_rng(0)
    for _ in range(4):
        actions = rng.uniform(-1, 1, envs.action_space.shape).astype(np.float32)
        envs.step(actions)
        single.step(actions[2])
    frames = envs.render()
    assert isinstance(frames, tuple) and len(frames) == 1
    np.testing.assert_array_equal(frames[0], single.render())


@pytest.mark.parametrize("index", [-1, 3, 1.0])
def test_vector_env_rejects_a_bad_render_env_index(tiny_scenario, index):
    with pytest.raises(ValueError, match=r"render_env_index: got .*\[0, 2\]"):
        EVGridVectorEnv(3, tiny_scenario(), render_mode="rgb_array", render_env_index=index)


def test_record_video_writes_an_mp4_of_the_episode(tiny_scenario, tmp_path):
    pytest.importorskip("moviepy", reason="videos need the [viz] extra (moviepy)")
    import imageio_ffmpeg

    env = gym.make(ENV_ID, scenario=tiny_scenario(), render_mode="rgb_array")
    env = gym.wrappers.RecordVideo(env, str(tmp_path / "videos"), name_prefix="tiny")
    env.reset(seed=0)
    terminated = False
    while not terminated:
        terminated = env.step(_full_power(env))[2]
    env.close()
    videos = list((tmp_path / "videos").glob("*.mp4"))
    assert len(videos) == 1
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(videos[0]))
    n_ticks = env.unwrapped.scenario.config.episode_ticks
    assert frames == n_ticks + 1  # the reset and every step
    assert seconds == pytest.approx((n_ticks + 1) / EVGridEnv.metadata["render_fps"], abs=0.2)


def test_human_mode_steps_without_a_display(tiny_scenario):
    env = gym.make(ENV_ID, scenario=tiny_scenario(), render_mode="human")
    env.reset(seed=0)
    env.step(_full_power(env))
    assert env.render() is None
    window = env.unwrapped._renderer.window
    assert window.figure is not None and not window.interactive
    shown = np.asarray(window._image.get_array())
    assert shown.shape == FRAME_SHAPE
    env.close()
    assert window.figure is None
    env.close()  # closing twice is allowed
