"""A frame: one moment of an episode as a single-line diagram of the community, and the day so far.

Left, the supply side: wind (turbines down greyed), households, the external supplier and the
feeder with its load against its limit, all on the feeder bus. Right, one panel per station on
that bus: its grid connection (net import against capacity; the link down in red), its BESS
filled to its soc, its chargers (down ones hatched grey) and one cell per connector with the
plugged car, a battery filled to its soc (a tick at the target soc) and the power of the last
tick on its cable (width by kW; blue charging, amber V2G). Below, strips of the day so far:
wind, households, EV charging, BESS, external power and the price.

Drawn with PIL on a fixed canvas (no display needed); the static parts are drawn once.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from evgrid_gym.core import layout as L
from evgrid_gym.kpis import reward_unit
from evgrid_gym.scenario import Scenario
from evgrid_gym.viz import icons, style
from evgrid_gym.viz.layout import Box, StationLayout, charger_connectors, station_layouts
from evgrid_gym.viz.state import FLOW_NAMES, FrameState, History

FRAME_SIZE = (1024, 768)
"""Width and height of an ``rgb_array`` frame, pixels (multiples of 16, as video codecs like)."""

HEADER_H = 40
SUPPLY_W = 178
STRIPS_H = 214
STRIP_LABEL_W = 150


def _kw(value: float) -> str:
    """``12.3 kW``, or ``1.2 MW`` from 1,000 kW on."""
    if abs(value) >= 1000.0:
        return f"{value / 1000.0:.1f} MW"
    return f"{value:.0f} kW" if abs(value) >= 100.0 else f"{value:.1f} kW"


def _cable_width(power_kw: float, rated_kw: float) -> int:
    return 1 + round(5 * min(abs(power_kw) / rated_kw, 1.0)) if rated_kw > 0 else 1


def _flow_colour(power_kw: float) -> tuple[int, int, int]:
    if power_kw > 1e-6:
        return style.CHARGING
    return style.V2G if power_kw < -1e-6 else style.IDLE


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above ``value`` (> 0)."""
    exponent = 10.0 ** math.floor(math.log10(value))
    return next(m * exponent for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * exponent >= value)


class FrameDrawer:
    """Draws :class:`FrameState` s of one scenario.

    Args:
        scenario: the scenario whose topology is laid out (once).
        size: ``(width, height)`` in pixels.
        grid_only: draw only the community (no title row, no strips): the dashboard's view.
    """

    def __init__(self, scenario: Scenario, size: tuple[int, int] = FRAME_SIZE, grid_only=False):
        self.scenario = sc = scenario
        self.size = width, height = size
        self.grid_only = grid_only
        top = 8 if grid_only else HEADER_H + 6
        bottom = height - (8 if grid_only else STRIPS_H)
        self.supply = Box(8, top, SUPPLY_W - 16, bottom - top)
        self.stations_area = Box(SUPPLY_W + 14, top, width - SUPPLY_W - 22, bottom - top)
        self.bus_x = SUPPLY_W + 2
        # one strip per flow (the BESS only where there is one), each on its own scale
        self.strip_series = [
            name for name in FLOW_NAMES
            if name != "bess_kw" or (sc.station_f[L.ST_BESS_KWH] > 0).any()
        ]  # fmt: skip
        strip_h = (STRIPS_H - 34) / len(self.strip_series)
        self.strips = [
            Box(STRIP_LABEL_W, bottom + 12 + i * strip_h, width - STRIP_LABEL_W - 12, strip_h - 3)
            for i in range(len(self.strip_series))
        ]
        chargers = charger_connectors(sc.connector_charger, sc.charger_station, sc.n_stations)
        self.stations: list[StationLayout] = station_layouts(
            self.stations_area, chargers, bool((sc.station_f[L.ST_BESS_KWH] > 0).any())
        )
        self.supply_nodes = [
            Box(self.supply.x, self.supply.y + i * 74, self.supply.w, 64) for i in range(4)
        ]
        specs = [self._charger_spec(k) for k in range(sc.n_chargers)]
        self.station_spec = []  # "4 x 11 kW AC" when a station's chargers are alike, else None
        for s in range(sc.n_stations):
            own = {specs[k] for k in np.flatnonzero(sc.charger_station == s)}
            count = int((sc.charger_station == s).sum())
            self.station_spec.append(f"{count} x {own.pop()}" if len(own) == 1 else None)
        self.base = self._draw_base()

    def _charger_spec(self, k: int) -> str:
        """``22 kW AC V2G``: a charger's rated power, kind and V2G."""
        sc = self.scenario
        kind = "DC" if sc.charger_f[L.CH_IS_DC, k] else "AC"
        v2g = " V2G" if sc.charger_f[L.CH_V2G, k] else ""
        return f"{sc.charger_f[L.CH_MAX_KW, k]:.0f} kW {kind}{v2g}"

    # --- the static parts ----------------------------------------------------------------

    def _draw_base(self) -> Image.Image:
        image = Image.new("RGB", self.size, style.BACKGROUND)
        draw = ImageDraw.Draw(image)
        taps = [node.y + node.h / 2 for node in self.supply_nodes]
        taps += [st.panel.y - 6 for st in self.stations]
        draw.line((self.bus_x, min(taps), self.bus_x, max(taps)), fill=style.TEXT, width=3)
        for node, label in zip(
            self.supply_nodes, ("wind", "households", "external supplier", "feeder"), strict=True
        ):
            draw.rounded_rectangle(node.xyxy(), radius=6, fill=style.PANEL, outline=style.BORDER)
            draw.text((node.x + 52, node.y + 6), label, font=style.font(12, True), fill=style.TEXT)
        icons.house(draw, Box(self.supply_nodes[1].x + 10, self.supply_nodes[1].y + 14, 30, 32),
                    (147, 51, 234))  # fmt: skip
        icons.pylon(draw, Box(self.supply_nodes[2].x + 12, self.supply_nodes[2].y + 12, 28, 40),
                    style.TEXT)  # fmt: skip
        self._transformer(draw, self.supply_nodes[3])
        for s, st in enumerate(self.stations):
            row_y = st.panel.y - 6
            draw.line((self.bus_x, row_y, st.panel.x + 18, row_y), fill=style.TEXT, width=2)
            self._station_base(draw, s, st)
        if not self.grid_only:
            for strip, name in zip(self.strips, self.strip_series, strict=True):
                draw.rectangle(strip.xyxy(), fill=style.PANEL, outline=style.BORDER)
                draw.text((12, strip.y + strip.h / 2), style.SERIES_LABELS[name], anchor="lm",
                          font=style.font(11, True), fill=style.SERIES_COLOURS[name])  # fmt: skip
            self._time_axis(draw)
        return image

    def _transformer(self, draw: ImageDraw.ImageDraw, node: Box) -> None:
        cx, cy, r = node.x + 26, node.y + 30, 10
        for dy in (-6, 6):
            draw.ellipse((cx - r, cy + dy - r, cx + r, cy + dy + r), outline=style.TEXT, width=2)

    def _time_axis(self, draw: ImageDraw.ImageDraw) -> None:
        cfg = self.scenario.config
        hours = cfg.episode_ticks * cfg.dt_h
        step = max(1, round(hours / 8))
        for hour in range(0, int(hours) + 1, step):
            x = self.strips[0].x + self.strips[0].w * hour / hours
            for strip in self.strips:
                draw.line((x, strip.y + 1, x, strip.bottom - 1), fill=style.GRID_LINE)
            draw.text((x, self.strips[-1].bottom + 3), f"{hour % 24:02d}:00", anchor="ma",
                      font=style.font(10), fill=style.MUTED)  # fmt: skip

    # --- one frame --------------------------------------------------------------------------

    def image(self, state: FrameState, history: History | None = None) -> Image.Image:
        """The picture of ``state`` (and of ``history`` in the strips, unless ``grid_only``)."""
        image = self.base.copy()
        draw = ImageDraw.Draw(image)
        self._supply(draw, state)
        for s, st in enumerate(self.stations):
            self._station(draw, state, s, st)
        if not self.grid_only:
            self._header(draw, state, history)
            if history is not None:
                self._strips(draw, history)
        return image

    def frame(self, state: FrameState, history: History | None = None) -> np.ndarray:
        """:meth:`image` as an ``(height, width, 3)`` uint8 array."""
        return np.asarray(self.image(state, history), dtype=np.uint8).copy()

    def _header(self, draw: ImageDraw.ImageDraw, state: FrameState, history) -> None:
        sc = self.scenario
        title = f"{sc.config.name}  {state.date}  {state.clock()}"
        draw.text((12, 10), title, font=style.font(17, True), fill=style.TEXT)
        sub = f"tick {state.tick} / {sc.config.episode_ticks}"
        draw.text((12 + draw.textlength(title, font=style.font(17, True)) + 12, 14), sub,
                  font=style.font(12), fill=style.MUTED)  # fmt: skip
        total, unit = state.kpi_total, reward_unit(sc.config.reward.kpi_weights)
        kpis = (
            ("reward", "-" if history is None else f"{history.reward:.1f} {unit}"),
            ("charged", f"{total[L.KPI['ev_energy_kwh']]:.0f} kWh"),
            ("unmet", f"{total[L.KPI['unmet_energy_kwh']]:.1f} kWh"),
            ("external", f"{total[L.KPI['external_energy_kwh']]:.0f} kWh"),
        )
        x = self.size[0] - 12
        for label, value in reversed(kpis):
            x -= draw.textlength(value, font=style.font(13, True))
            draw.text((x, 13), value, font=style.font(13, True), fill=style.TEXT)
            x -= draw.textlength(label + " ", font=style.font(12)) + 2
            draw.text((x, 14), label, font=style.font(12), fill=style.MUTED)
            x -= 18

    def _supply(self, draw: ImageDraw.ImageDraw, state: FrameState) -> None:
        sc, obs = self.scenario, state.observation
        wind_node, home_node, ext_node, feeder_node = self.supply_nodes
        down = state.wind_share_down
        wind_kw = obs.renewable_kw[0] * (1.0 - down)
        colour = style.DOWN if down >= 1.0 else style.SERIES_COLOURS["wind_kw"]
        icons.turbine(draw, Box(wind_node.x + 8, wind_node.y + 8, 34, 50),
                      state.tick * 0.7, colour)  # fmt: skip
        capacity = sc.renewable_capacity_kw()
        self._node_text(draw, wind_node, _kw(wind_kw), f"of {_kw(capacity)}")
        if down > 0:
            draw.text((wind_node.right - 6, wind_node.y + 6), f"{down:.0%} down", anchor="ra",
                      font=style.font(10, True), fill=style.ALERT)  # fmt: skip
        self._node_text(draw, home_node, _kw(obs.household_kw), "always served")
        external_kw = state.kpi_value("external_energy_kwh") / sc.config.dt_h
        self._node_text(draw, ext_node, _kw(external_kw),
                        f"{state.price_eur_per_kwh:.3f} EUR/kWh")  # fmt: skip
        load_kw = obs.household_kw + float(state.station_net_kw.sum())
        limit_kw = sc.config.grid.feeder_limit_kw
        self._node_text(draw, feeder_node, _kw(load_kw), f"limit {_kw(limit_kw)}")
        self._bar(draw, Box(feeder_node.x + 52, feeder_node.bottom - 12, feeder_node.w - 60, 6),
                  load_kw / limit_kw)  # fmt: skip
        for node, kw in zip(self.supply_nodes[:3], (wind_kw, obs.household_kw, external_kw),
                            strict=True):  # fmt: skip
            y = node.y + node.h / 2
            width = _cable_width(kw, max(capacity, limit_kw, 1.0) / 4)
            draw.line((node.right, y, self.bus_x, y), fill=style.TEXT if kw > 0 else style.IDLE,
                      width=width)  # fmt: skip
        draw.line((feeder_node.right, feeder_node.y + 30, self.bus_x, feeder_node.y + 30),
                  fill=style.TEXT, width=3)  # fmt: skip

    def _node_text(self, draw, node: Box, value: str, note: str) -> None:
        draw.text((node.x + 52, node.y + 22), value, font=style.font(15, True), fill=style.TEXT)
        draw.text((node.x + 52, node.y + 41), note, font=style.font(10), fill=style.MUTED)

    def _bar(self, draw, box: Box, fraction: float, colour=style.CHARGING) -> None:
        """A horizontal gauge filled to ``fraction`` (red beyond 1)."""
        draw.rectangle(box.xyxy(), fill=style.GRID_LINE)
        filled = min(abs(fraction), 1.0) * box.w
        fill = style.ALERT if abs(fraction) > 1.0 + 1e-9 else colour
        if filled > 0:
            draw.rectangle((box.x, box.y, box.x + filled, box.bottom), fill=fill)

    def _station_base(self, draw: ImageDraw.ImageDraw, s: int, st: StationLayout) -> None:
        """What does not change: the panel, its bus bars, its chargers, every cell free."""
        sc = self.scenario
        draw.rounded_rectangle(st.panel.xyxy(), radius=6, fill=style.PANEL, outline=style.BORDER)
        for row_y in st.rows:
            in_row = [cell for cell in st.cells if cell.y == row_y]
            if in_row and not self._tiny(in_row[0]):
                draw.line((in_row[0].x + 4, row_y + 3, in_row[-1].right - 4, row_y + 3),
                          fill=style.MUTED, width=2)  # fmt: skip
        for cell in st.cells:
            self._free_cell(draw, cell, reserved=False)
        charger_ids = np.flatnonzero(sc.charger_station == s)
        for k, box in zip(charger_ids, st.chargers, strict=True):
            self._charger_frame(draw, k, box, down=False)

    def _station(self, draw: ImageDraw.ImageDraw, state: FrameState, s: int, st: StationLayout):
        sc = self.scenario
        link_down = bool(state.link_down[s])
        if link_down:
            draw.rounded_rectangle(st.panel.xyxy(), radius=6, outline=style.ALERT, width=2)
        net_kw = float(state.station_net_kw[s])
        draw.line((st.panel.x + 18, st.panel.y - 6, st.panel.x + 18, st.panel.y + 4),
                  fill=_flow_colour(net_kw),
                  width=_cable_width(net_kw, sc.station_f[L.ST_GRID_KW, s]))  # fmt: skip
        self._station_header(draw, state, s, st, link_down)
        if st.bess.w > 0:
            self._bess(draw, state, s, st.bess)
        charger_ids = np.flatnonzero(sc.charger_station == s)
        for k, box in zip(charger_ids, st.chargers, strict=True):
            if state.charger_down[k]:
                draw.rectangle(box.inset(1).xyxy(), fill=style.DOWN_FILL)
                icons.hatch(draw, box.inset(1), style.PANEL)
        reserved = set(state.reserved_connectors.tolist())
        for c, cell in zip(np.flatnonzero(sc.connector_station == s), st.cells, strict=True):
            self._connector(draw, state, int(c), cell, c in reserved)
        for k, box in zip(charger_ids, st.chargers, strict=True):
            if state.charger_down[k]:
                self._charger_frame(draw, k, box, down=True)

    def _station_header(self, draw, state: FrameState, s: int, st: StationLayout, link_down):
        sc = self.scenario
        name = sc.config.stations[s].id
        small = st.header.h < 20 or st.panel.w < 160
        bold = style.font(11 if small else 13, True)
        draw.text((st.header.x + 28, st.header.y + 6), name, font=bold, fill=style.TEXT)
        if small:
            return
        x = st.header.x + 36 + draw.textlength(name, font=bold)
        if link_down:
            draw.text((x, st.header.y + 8), "link down: fallback", font=style.font(10, True),
                      fill=style.ALERT)  # fmt: skip
            x += draw.textlength("link down: fallback", font=style.font(10, True)) + 10
        grid_kw = sc.station_f[L.ST_GRID_KW, s]
        net_kw = float(state.station_net_kw[s])
        label = f"{net_kw:.1f} / {grid_kw:.0f} kW"
        bar = Box(st.header.right - 62, st.header.y + 10, 52, 7)
        label_x = bar.x - 6 - draw.textlength(label, font=style.font(10))
        draw.text((label_x, st.header.y + 7), label, font=style.font(10), fill=style.TEXT)
        self._bar(draw, bar, net_kw / grid_kw, _flow_colour(net_kw))
        spec = self.station_spec[s]
        if spec is not None and x + draw.textlength(spec, font=style.font(10)) < label_x - 10:
            draw.text((x, st.header.y + 8), spec, font=style.font(10), fill=style.MUTED)

    def _bess(self, draw, state: FrameState, s: int, box: Box) -> None:
        sc = self.scenario
        if sc.station_f[L.ST_BESS_KWH, s] <= 0:
            if box.h >= 40:
                draw.text((box.x + box.w / 2, box.y + 4), "no\nBESS", anchor="ma",
                          align="center", font=style.font(9), fill=style.MUTED)  # fmt: skip
            return
        soc = float(state.observation.bess_soc[s])
        if box.h < 60 or box.w < 30:  # no room for labels
            icons.battery(draw, box.inset(2), soc, vertical=True, down=bool(state.link_down[s]))
            return
        height = min(box.h - 34, 70.0)
        icon = Box(box.x + box.w / 2 - 11, box.y + 14, 22, height)
        draw.text((box.x + box.w / 2, box.y), "BESS", anchor="ma", font=style.font(9, True),
                  fill=style.TEXT)  # fmt: skip
        icons.battery(draw, icon, soc, vertical=True, down=bool(state.link_down[s]))
        kw = float(state.station_bess_kw[s])
        draw.text((box.x + box.w / 2, icon.bottom + 3), f"{soc:.0%}", anchor="ma",
                  font=style.font(10, True), fill=style.TEXT)  # fmt: skip
        draw.text((box.x + box.w / 2, icon.bottom + 16), f"{kw:+.0f} kW", anchor="ma",
                  font=style.font(9), fill=_flow_colour(kw) if kw else style.MUTED)  # fmt: skip

    @staticmethod
    def _tiny(cell: Box) -> bool:
        """Whether a cell only has room for a coloured dot (a 1,000-connector feeder)."""
        return cell.w < 16 or cell.h < 14

    @staticmethod
    def _detailed(inner: Box) -> bool:
        """Whether a cell has room for a car and a label."""
        return inner.w >= 56 and inner.h >= 52

    @staticmethod
    def _inner(cell: Box) -> Box:
        """A cell less its margins (thinner for small cells)."""
        return cell.inset(min(4.0, cell.w / 8), min(3.0, cell.h / 8))

    def _free_cell(self, draw, cell: Box, reserved: bool) -> None:
        """A cell without a car: ``free`` (or ``reserved``) where there is room."""
        inner = self._inner(cell)
        if self._tiny(cell):
            draw.rectangle(inner.xyxy(), fill=style.RESERVED if reserved else style.GRID_LINE)
            return
        cx, top = cell.x + cell.w / 2, inner.y + min(8, inner.h / 4)
        draw.line((cx, cell.y + 3, cx, top), fill=style.IDLE, width=1)
        if reserved and inner.w < 44:  # no room for the word
            draw.rectangle(inner.xyxy(), outline=style.RESERVED)
        elif reserved or self._detailed(inner):
            text, colour = ("reserved", style.RESERVED) if reserved else ("free", style.MUTED)
            draw.text((cx, top + (inner.bottom - top) / 2), text, anchor="mm",
                      font=style.font(10 if self._detailed(inner) else 8, reserved),
                      fill=colour)  # fmt: skip

    def _connector(self, draw, state: FrameState, c: int, cell: Box, reserved: bool) -> None:
        """The car on connector ``c`` (the base shows every cell free)."""
        sc, obs = self.scenario, state.observation
        occupied = obs.occupied[c] > 0.5
        if not (occupied or reserved):
            return
        inner = self._inner(cell)
        if self._tiny(cell):
            if not occupied:
                self._free_cell(draw, cell, reserved=True)
                return
            down = bool(state.charger_down[sc.connector_charger[c]])
            colour = style.DOWN if down else style.soc_colour(float(obs.soc[c]))
            draw.rectangle(inner.xyxy(), fill=colour)
            return
        cx, top = cell.x + cell.w / 2, inner.y + min(8, inner.h / 4)
        if inner.w > 2 and inner.bottom - top > 2:
            draw.rectangle((inner.x + 1, top, inner.right - 1, inner.bottom - 1), fill=style.PANEL)
        if not occupied:
            self._free_cell(draw, cell, reserved=True)
            return
        down = bool(state.charger_down[sc.connector_charger[c]])
        power_kw = float(state.connector_power_kw[c])
        draw.line((cx, cell.y + 3, cx, top), fill=_flow_colour(power_kw),
                  width=_cable_width(power_kw, sc.connector_rated_kw[c]))  # fmt: skip
        soc = float(obs.soc[c])
        if not self._detailed(inner):
            icons.battery(draw, Box(inner.x, top + 1, inner.w, inner.bottom - top - 1), soc,
                          down=down)  # fmt: skip
            return
        body = style.DOWN if down else (style.V2G if power_kw < -1e-6 else (51, 65, 85))
        icons.car(draw, Box(inner.x, top, inner.w, (inner.bottom - top) * 0.42), body)
        battery_box = Box(inner.x + 4, top + (inner.bottom - top) * 0.47, inner.w - 8, 12)
        icons.battery(draw, battery_box, soc, target=float(state.soc_target[c]), down=down)
        label = f"{soc:.0%} {power_kw:+.1f} kW" if abs(power_kw) >= 0.05 else f"{soc:.0%}"
        draw.text((cx, battery_box.bottom + 3), label, anchor="ma", font=style.font(10),
                  fill=style.TEXT)  # fmt: skip

    def _charger_frame(self, draw, k: int, box: Box, down: bool) -> None:
        """A charger's outline and label (its spec, unless the station's header has it)."""
        if self._tiny(box):
            return
        draw.rounded_rectangle(box.inset(1).xyxy(), radius=4,
                               outline=style.DOWN if down else style.BORDER)  # fmt: skip
        uniform = self.station_spec[self.scenario.charger_station[k]] is not None
        if box.h < 60 or box.w < 56 or (uniform and not down):
            return
        text = "DOWN" if down else self._charger_spec(k)
        draw.text((box.right - 4, box.bottom - 3), text, anchor="rd",
                  font=style.font(8, down), fill=style.ALERT if down else style.MUTED)  # fmt: skip

    # --- the strips of the day ----------------------------------------------------------

    def _strips(self, draw: ImageDraw.ImageDraw, history: History) -> None:
        n_ticks = self.scenario.config.episode_ticks
        for strip, name in zip(self.strips, self.strip_series, strict=True):
            values = history.series(name)
            unit = "EUR/kWh" if name == "price_eur_per_kwh" else "kW"
            low = min(float(values.min(initial=0.0)), 0.0)
            high = max(float(values.max(initial=0.0)), 0.0)
            now = (
                "-"
                if not values.shape[0]
                else (_kw(values[-1]) if unit == "kW" else f"{values[-1]:.3f} {unit}")
            )
            draw.text((STRIP_LABEL_W - 8, strip.y + strip.h / 2), now, anchor="rm",
                      font=style.font(10), fill=style.TEXT)  # fmt: skip
            scale = f"{high:.2f} {unit}" if unit != "kW" else _kw(high)
            draw.text((strip.right - 4, strip.y + 2), f"max {scale}", anchor="ra",
                      font=style.font(8), fill=style.MUTED)  # fmt: skip
            self._plot(draw, strip, name, values, n_ticks, low, max(high, low + 1e-6))

    def _plot(self, draw, box: Box, name: str, values, n_ticks: int, low, high) -> None:
        """``values`` (one per tick so far) as a step line with its area filled, in ``box``."""
        inner = box.inset(1, 2)
        now = inner.x + inner.w * values.shape[0] / n_ticks
        draw.line((now, box.y, now, box.bottom), fill=style.MUTED)
        if values.shape[0] == 0:
            return
        xs = inner.x + inner.w * np.arange(values.shape[0] + 1) / n_ticks
        ys = inner.bottom - inner.h * (values - low) / (high - low)
        zero = inner.bottom - inner.h * (0.0 - low) / (high - low)
        # a step line: each tick's average holds over the tick
        points = np.column_stack([np.repeat(xs, 2)[1:-1], np.repeat(ys, 2)])
        colour = style.SERIES_COLOURS[name]
        area = [(points[0, 0], zero), *map(tuple, points), (points[-1, 0], zero)]
        draw.polygon(area, fill=tuple(int(c + (255 - c) * 0.78) for c in colour))
        draw.line(points.ravel().tolist(), fill=colour, width=2)
