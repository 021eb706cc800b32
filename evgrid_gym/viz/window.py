"""The ``"human"`` render mode: frames shown live in a matplotlib window."""

from __future__ import annotations

import time

import numpy as np


class Window:
    """A matplotlib figure that shows one frame after another at ``fps`` frames per second.

    On a non-interactive backend (Agg, as on a machine without a display) the frames are
    drawn into the figure but nothing is shown and nothing waits.

    Args:
        fps: frames per second to pace the display at.
        title: the window's title.
    """

    def __init__(self, fps: float, title: str):
        import matplotlib.pyplot as plt

        self._plt = plt
        self._interval_s = 1.0 / fps
        self._last = 0.0
        self.figure = None
        self._image = None
        self._title = title

    @property
    def interactive(self) -> bool:
        """True when the backend can show a window."""
        return self.figure is not None and (
            self.figure.canvas.required_interactive_framework is not None
        )

    def show(self, frame: np.ndarray) -> None:
        """Shows ``frame`` (H, W, 3) uint8, waiting so frames come ``1 / fps`` apart."""
        if self.figure is None:
            height, width = frame.shape[:2]
            self.figure = self._plt.figure(figsize=(width / 100, height / 100), dpi=100)
            axes = self.figure.add_axes((0, 0, 1, 1))
            axes.set_axis_off()
            self._image = axes.imshow(frame)
            if self.figure.canvas.manager is not None:
                self.figure.canvas.manager.set_window_title(self._title)
            if self.interactive:
                self._plt.show(block=False)
        else:
            self._image.set_data(frame)
        self.figure.canvas.draw_idle()
        if not self.interactive:
            return
        wait = self._interval_s - (time.perf_counter() - self._last)
        self.figure.canvas.start_event_loop(max(wait, 1e-3))
        self._last = time.perf_counter()

    def close(self) -> None:
        """Closes the window (again: nothing)."""
        if self.figure is not None:
            self._plt.close(self.figure)
            self.figure = None
