"""Small pictures drawn with PIL: a car, a battery filled to its soc, a turbine, a house."""

from __future__ import annotations

import math

from PIL import ImageDraw

from evgrid_gym.viz import style
from evgrid_gym.viz.layout import Box


def battery(
    draw: ImageDraw.ImageDraw,
    box: Box,
    soc: float,
    target: float | None = None,
    vertical: bool = False,
    down: bool = False,
) -> None:
    """A battery outline in ``box`` filled to ``soc`` (0..1), with a tick at ``target`` soc."""
    if box.w < 4 or box.h < 4:
        return
    nub = max(min(box.w, box.h) * 0.12, 2.0)
    if vertical:
        body = Box(box.x, box.y + nub, box.w, box.h - nub)
        tip = Box(box.x + box.w * 0.3, box.y, box.w * 0.4, nub)
    else:
        body = Box(box.x, box.y, box.w - nub, box.h)
        tip = Box(body.right, box.y + box.h * 0.3, nub, box.h * 0.4)
    outline = style.DOWN if down else style.TEXT
    radius = min(3, int(min(body.w, body.h) / 4))
    draw.rounded_rectangle(body.xyxy(), radius=radius, fill=style.PANEL, outline=outline)
    draw.rectangle(tip.xyxy(), fill=outline)
    inner = body.inset(2.0)
    soc = min(max(soc, 0.0), 1.0)
    colour = style.DOWN if down else style.soc_colour(soc)
    if vertical:
        level = inner.bottom - inner.h * soc
        if soc > 0:
            draw.rectangle((inner.x, level, inner.right, inner.bottom), fill=colour)
        if target is not None:
            y = inner.bottom - inner.h * target
            draw.line((body.x - 2, y, body.right + 1, y), fill=style.TEXT, width=1)
    else:
        if soc > 0:
            draw.rectangle((inner.x, inner.y, inner.x + inner.w * soc, inner.bottom), fill=colour)
        if target is not None:
            x = inner.x + inner.w * target
            draw.line((x, body.y - 2, x, body.bottom + 1), fill=style.TEXT, width=1)


def car(draw: ImageDraw.ImageDraw, box: Box, colour: tuple[int, int, int]) -> None:
    """A side view of a car fitted into ``box`` (aspect about 2.2 : 1)."""
    w = min(box.w, box.h * 2.2)
    h = w / 2.2
    x, y = box.x + (box.w - w) / 2, box.y + (box.h - h) / 2
    wheel = h * 0.36
    body_top, body_bottom = y + h * 0.38, y + h - wheel * 0.5
    cabin = [
        (x + w * 0.22, body_top),
        (x + w * 0.34, y + h * 0.05),
        (x + w * 0.70, y + h * 0.05),
        (x + w * 0.82, body_top),
    ]
    draw.polygon(cabin, fill=colour)
    draw.rounded_rectangle(
        (x, body_top, x + w, body_bottom), radius=max(int(h * 0.15), 1), fill=colour
    )
    window = [
        (x + w * 0.30, body_top - 1),
        (x + w * 0.38, y + h * 0.14),
        (x + w * 0.66, y + h * 0.14),
        (x + w * 0.74, body_top - 1),
    ]
    draw.polygon(window, fill=style.PANEL)
    for cx in (x + w * 0.22, x + w * 0.78):
        cy = y + h - wheel / 2
        draw.ellipse((cx - wheel / 2, cy - wheel / 2, cx + wheel / 2, cy + wheel / 2),
                     fill=style.TEXT, outline=style.PANEL)  # fmt: skip


def turbine(
    draw: ImageDraw.ImageDraw, box: Box, phase: float, colour: tuple[int, int, int]
) -> None:
    """A wind turbine in ``box``, blades turned by ``phase`` radians."""
    cx, top = box.x + box.w / 2, box.y + box.h * 0.38
    blade = min(box.w, box.h) * 0.36
    draw.polygon(
        [(cx - 1.5, top), (cx + 1.5, top), (cx + 3, box.bottom), (cx - 3, box.bottom)], fill=colour
    )
    for k in range(3):
        angle = phase + k * 2 * math.pi / 3
        tip = (cx + blade * math.cos(angle), top + blade * math.sin(angle))
        side = (cx + 3 * math.cos(angle + math.pi / 2), top + 3 * math.sin(angle + math.pi / 2))
        draw.polygon([(cx, top), side, tip], fill=colour)
    draw.ellipse((cx - 3, top - 3, cx + 3, top + 3), fill=style.PANEL, outline=colour)


def house(draw: ImageDraw.ImageDraw, box: Box, colour: tuple[int, int, int]) -> None:
    """A house with a pitched roof in ``box``."""
    roof = box.y + box.h * 0.45
    draw.polygon([(box.x, roof), (box.x + box.w / 2, box.y), (box.right, roof)], fill=colour)
    draw.rectangle((box.x + box.w * 0.12, roof, box.right - box.w * 0.12, box.bottom), fill=colour)
    door = Box(box.x + box.w * 0.42, box.y + box.h * 0.68, box.w * 0.16, box.h * 0.32)
    draw.rectangle(door.xyxy(), fill=style.PANEL)


def pylon(draw: ImageDraw.ImageDraw, box: Box, colour: tuple[int, int, int]) -> None:
    """A transmission pylon (the external supplier) in ``box``."""
    cx = box.x + box.w / 2
    legs = [(cx - box.w * 0.35, box.bottom), (cx, box.y), (cx + box.w * 0.35, box.bottom)]
    draw.line(legs, fill=colour, width=2)
    for frac, span in ((0.25, 0.5), (0.5, 0.35)):
        y = box.y + box.h * frac
        draw.line((cx - box.w * span, y, cx + box.w * span, y), fill=colour, width=2)
    draw.line((cx - box.w * 0.2, box.y + box.h * 0.62, cx + box.w * 0.25, box.bottom),
              fill=colour, width=1)  # fmt: skip
    draw.line((cx + box.w * 0.2, box.y + box.h * 0.62, cx - box.w * 0.25, box.bottom),
              fill=colour, width=1)  # fmt: skip


def hatch(draw: ImageDraw.ImageDraw, box: Box, colour: tuple[int, int, int], step: int = 7) -> None:
    """Diagonal hatching over ``box`` (a component that is down)."""
    x0, y0, x1, y1 = box.xyxy()
    for d in range(0, int(box.w + box.h), step):
        a = (x0 + d, y0) if d < box.w else (x1, y0 + d - box.w)
        b = (x0, y0 + d) if d < box.h else (x0 + d - box.h, y1)
        draw.line((a, b), fill=colour, width=1)
