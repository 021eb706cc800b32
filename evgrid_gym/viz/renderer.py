"""Rendering for the envs: keeps the day's history and draws frames, for ``render_mode``."""

from __future__ import annotations

import numpy as np

from evgrid_gym.viz.frame import FrameDrawer
from evgrid_gym.viz.state import FrameState, History, frame_state
from evgrid_gym.viz.window import Window


class EnvRenderer:
    """Draws one env (or one copy of a vector env) for its ``render_mode``.

    The env calls :meth:`record` after every ``reset`` and ``step``; it keeps the flows of the
    day for the strips and, in ``"human"`` mode, shows the new frame. :meth:`render` returns
    the frame of now. Only an env created with a render mode makes one, so rendering off costs
    nothing.

    Args:
        env: the env (its ``scenario`` is laid out once).
        render_mode: ``"human"`` or ``"rgb_array"``.
        index: the copy of a vector env to draw; None for a single env.
    """

    def __init__(self, env, render_mode: str, index: int | None = None):
        self.drawer = FrameDrawer(env.scenario)
        self.history = History(env.scenario.config.episode_ticks)
        self.index = index
        title = f"evgrid_gym: {env.scenario.config.name}"
        fps = env.metadata["render_fps"]
        self.window = Window(fps, title) if render_mode == "human" else None
        self.state: FrameState | None = None

    def record(self, env) -> None:
        """Takes the env's state after a ``reset`` or ``step`` (and shows it in a window)."""
        self.state = frame_state(env, self.index)
        self.history.record(self.state)
        if self.window is not None:
            self.window.show(self.frame())

    def frame(self) -> np.ndarray:
        """The frame of the last recorded state, (H, W, 3) uint8.

        Raises:
            RuntimeError: nothing recorded yet (the env was not reset).
        """
        if self.state is None:
            raise RuntimeError("call reset() before render()")
        return self.drawer.frame(self.state, self.history)

    def render(self) -> np.ndarray | None:
        """``render()`` of the env: the frame in ``"rgb_array"`` mode; in ``"human"`` mode the
        frame is shown again and None returned."""
        if self.window is None:
            return self.frame()
        self.window.show(self.frame())
        return None

    def close(self) -> None:
        if self.window is not None:
            self.window.close()
