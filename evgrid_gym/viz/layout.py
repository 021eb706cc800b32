"""Where the stations, chargers and connectors of a scenario go in a frame (pixels).

A station is a panel; its chargers are laid out left to right in rows that wrap (a charger's
connectors stay together where the row has room), one cell per connector. The grid of panels
and the number of cells per row are chosen to make the cells as large as the area allows, up
to :data:`CELL_MAX`, so a 54-connector garage gets 9 x 6 readable cells and a 1,000-connector
feeder still fits (its cells shrink and drop their text).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

CELL_TARGET = (96.0, 78.0)  # width, height: a cell with a car, a battery and a label
CELL_MAX = (150.0, 116.0)
PANEL_GAP = 12.0
HEADER_H = 26.0  # station name, link and grid-connection bar
BESS_W = 50.0  # the station battery, left of the cells (only when a station has one)
MIN_BESS_H = 120.0  # a panel with a battery is at least this tall below its header


class Box(NamedTuple):
    """An axis-aligned rectangle in pixels, origin top left."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def inset(self, dx: float, dy: float | None = None) -> Box:
        dy = dx if dy is None else dy
        return Box(self.x + dx, self.y + dy, max(self.w - 2 * dx, 0.0), max(self.h - 2 * dy, 0.0))

    def xyxy(self) -> tuple[float, float, float, float]:
        return self.x, self.y, self.right, self.bottom


class StationLayout(NamedTuple):
    """One station's panel.

    Attributes:
        panel: the whole panel.
        header: its title row.
        bess: where its battery goes (zero width when no station has one).
        rows: the y of each row of cells (their top).
        cells: one box per connector of the station, in connector order.
        chargers: one box per charger (around its cells in the first row it occupies).
    """

    panel: Box
    header: Box
    bess: Box
    rows: list[float]
    cells: list[Box]
    chargers: list[Box]


def _wrap(charger_connectors: list[int], columns: int) -> list[tuple[int, int]]:
    """(row, column) of each charger's first cell when chargers wrap at ``columns`` cells.

    A charger moves to a new row when it does not fit in what is left of the current one but
    would fit in an empty row; a charger wider than a row wraps inside itself.
    """
    row, col, places = 0, 0, []
    for n in charger_connectors:
        if col > 0 and col + n > columns and n <= columns:
            row, col = row + 1, 0
        places.append((row, col))
        row, col = row + (col + n) // columns, (col + n) % columns
    return places


def _rows_needed(charger_connectors: list[int], columns: int) -> int:
    if not charger_connectors:
        return 1
    (row, col), n = _wrap(charger_connectors, columns)[-1], charger_connectors[-1]
    return row + math.ceil((col + n) / columns)


def _bess_width(panel_w: float, with_bess: bool) -> float:
    """Room for the station battery: a labelled icon in wide panels, a thin gauge in narrow ones."""
    if not with_bess:
        return 0.0
    return BESS_W if panel_w >= 4 * BESS_W else 14.0


def _best_grid(area: Box, stations: list[list[int]], with_bess: bool):
    """``(score, panel columns, cell columns, cell rows, BESS width)`` that make cells largest."""
    best = None
    widest = max((sum(s) for s in stations), default=1) or 1
    for panel_cols in range(1, len(stations) + 1):
        panel_rows = math.ceil(len(stations) / panel_cols)
        panel_w = (area.w - PANEL_GAP * (panel_cols - 1)) / panel_cols
        bess_w = _bess_width(panel_w, with_bess)
        inner_w = panel_w - bess_w - 8.0
        inner_h = (area.h - PANEL_GAP * (panel_rows - 1)) / panel_rows - HEADER_H - 6.0
        if inner_w <= 0 or inner_h <= 0:
            continue
        for columns in range(1, widest + 1):
            rows = max(_rows_needed(s, columns) for s in stations)
            cell_w, cell_h = inner_w / columns, inner_h / rows
            score = min(cell_w / CELL_TARGET[0], cell_h / CELL_TARGET[1])
            if best is None or score > best[0] + 1e-9:
                best = (score, panel_cols, columns, rows, bess_w)
    return best


def station_layouts(
    area: Box, station_chargers: list[list[int]], with_bess: bool
) -> list[StationLayout]:
    """Lays out every station in ``area``.

    Args:
        area: the pixels for all stations.
        station_chargers: for each station, the connector count of each of its chargers.
        with_bess: reserve room for a station battery in every panel.

    Returns:
        One :class:`StationLayout` per station.
    """
    _, panel_cols, columns, rows, bess_w = _best_grid(area, station_chargers, with_bess)
    panel_rows = math.ceil(len(station_chargers) / panel_cols)
    inner_w = (area.w - PANEL_GAP * (panel_cols - 1)) / panel_cols - bess_w - 8.0
    inner_h = (area.h - PANEL_GAP * (panel_rows - 1)) / panel_rows - HEADER_H - 6.0
    cell_w = min(inner_w / columns, CELL_MAX[0])
    cell_h = min(inner_h / rows, CELL_MAX[1])
    # panels as large as their cells (and their battery) need, centred in the area
    widest = max(min(columns, sum(chargers)) for chargers in station_chargers)
    panel_w = bess_w + 8.0 + widest * cell_w
    panel_h = HEADER_H + 6.0 + max(rows * cell_h, MIN_BESS_H if with_bess else 0.0)
    panel_h = min(panel_h, (area.h - PANEL_GAP * (panel_rows - 1)) / panel_rows)
    x_start = area.x + (area.w - panel_cols * panel_w - PANEL_GAP * (panel_cols - 1)) / 2
    y_start = area.y + (area.h - panel_rows * panel_h - PANEL_GAP * (panel_rows - 1)) / 2
    layouts = []
    for s, chargers in enumerate(station_chargers):
        px = x_start + (s % panel_cols) * (panel_w + PANEL_GAP)
        py = y_start + (s // panel_cols) * (panel_h + PANEL_GAP)
        panel = Box(px, py, panel_w, panel_h)
        header = Box(px, py, panel_w, HEADER_H)
        body_y = py + HEADER_H + 2.0
        used_rows = _rows_needed(chargers, columns)
        x0 = px + bess_w + 4.0
        cells, boxes = [], []
        for (row, col), n in zip(_wrap(chargers, columns), chargers, strict=True):
            first = len(cells)
            for j in range(n):
                r, c = row + (col + j) // columns, (col + j) % columns
                cells.append(Box(x0 + c * cell_w, body_y + r * cell_h, cell_w, cell_h))
            in_row = [b for b in cells[first:] if b.y == cells[first].y]
            boxes.append(Box(in_row[0].x, in_row[0].y, in_row[-1].right - in_row[0].x, cell_h))
        layouts.append(
            StationLayout(
                panel=panel,
                header=header,
                bess=Box(px + 4.0, body_y, bess_w - 6.0, panel.bottom - body_y - 4.0),
                rows=[body_y + r * cell_h for r in range(used_rows)],
                cells=cells,
                chargers=boxes,
            )
        )
    return layouts


def charger_connectors(
    connector_charger: np.ndarray, charger_station: np.ndarray, n_stations: int
) -> list[list[int]]:
    """For each station, the connector count of each of its chargers, in charger order."""
    counts = np.bincount(connector_charger, minlength=charger_station.shape[0])
    return [
        [int(counts[k]) for k in np.flatnonzero(charger_station == s)] for s in range(n_stations)
    ]
