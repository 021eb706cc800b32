"""The observation as the env's users see it: named views, bounds and its documentation,
all generated from the block table :data:`evgrid_gym.core.observation.BLOCKS`."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from evgrid_gym.core.observation import BLOCKS

Observation = namedtuple("Observation", [block.name for block in BLOCKS])
Observation.__doc__ = (
    "An observation split into named views (no copies; floats for the blocks of length 1): "
    + ", ".join(f"``{b.name}`` ({b.size}, {b.unit})" for b in BLOCKS)
    + ". Shapes in C connectors, S stations, K chargers, F forecast ticks, H reservation "
    "hours; ``reservations`` is (S, H)."
)


def unpack(observation: np.ndarray, offsets: np.ndarray, n_stations: int) -> Observation:
    """Splits an observation into named views at ``offsets`` (``Static.obs_offsets``).

    Raises:
        ValueError: the length does not fit the layout.
    """
    if observation.shape != (offsets[-1],):
        raise ValueError(
            f"observation: got shape {observation.shape}; this scenario's observation has "
            f"shape ({offsets[-1]},) (blocks {', '.join(b.name for b in BLOCKS)})"
        )
    views = []
    for i, block in enumerate(BLOCKS):
        view = observation[offsets[i] : offsets[i + 1]]
        if block.size == "1":
            view = float(view[0])
        elif block.name == "reservations":
            view = view.reshape(n_stations, -1)
        views.append(view)
    return Observation(*views)


def bounds(offsets: np.ndarray, limits: dict[str, float | np.ndarray]) -> tuple[np.ndarray, ...]:
    """``(low, high)``, float32, of an observation laid out at ``offsets``.

    Args:
        limits: the scenario quantities the blocks' bounds name (scalars, or arrays of the
            block's length).

    A feature that is constant in a scenario (a fixed price, no turbines, no households)
    still gets a unit-wide range: Gymnasium's checkers warn on ``low == high``.
    """
    low, high = np.zeros(offsets[-1]), np.zeros(offsets[-1])
    for i, block in enumerate(BLOCKS):
        window = slice(offsets[i], offsets[i + 1])
        low[window] = _value(block.low, limits)
        high[window] = _value(block.high, limits)
    high = np.where(high > low, high, low + 1.0)
    return low.astype(np.float32), high.astype(np.float32)


def _value(bound: float | str, limits: dict) -> float | np.ndarray:
    if isinstance(bound, str):
        return -limits[bound[1:]] if bound.startswith("-") else limits[bound]
    return bound


def markdown_table() -> str:
    """The README's table of the observation's blocks."""
    rows = ["| entries | observation | unit |", "|---|---|---|"]
    for block in BLOCKS:
        size = block.size.replace("+", " + ").replace("*", " x ")
        when = f"with {block.when}: " if block.when else ""
        rows.append(f"| {size} | {when}{block.description} (`{block.name}`) | {block.unit} |")
    return "\n".join(rows)
