"""Colours and fonts of the frames (one palette for the render and the dashboard)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import matplotlib
from PIL import ImageFont

BACKGROUND = (246, 247, 249)
PANEL = (255, 255, 255)
BORDER = (208, 213, 221)
TEXT = (31, 41, 51)
MUTED = (107, 114, 128)
GRID_LINE = (229, 231, 235)
DOWN = (156, 163, 175)  # a component that is down: greyed out
DOWN_FILL = (229, 231, 235)
ALERT = (220, 38, 38)
OK = (22, 163, 74)
RESERVED = (124, 58, 237)

CHARGING = (37, 99, 235)  # power into EVs
V2G = (217, 119, 6)  # power out of EVs (and station export)
IDLE = (203, 208, 216)

SERIES_COLOURS = {
    "wind_kw": (22, 163, 74),
    "household_kw": (147, 51, 234),
    "ev_kw": CHARGING,
    "bess_kw": (8, 145, 178),
    "external_kw": ALERT,
    "surplus_kw": (163, 163, 163),
    "price_eur_per_kwh": (17, 24, 39),
}
SERIES_LABELS = {
    "wind_kw": "wind",
    "household_kw": "households",
    "ev_kw": "EV charging",
    "bess_kw": "BESS",
    "external_kw": "external",
    "surplus_kw": "surplus",
    "price_eur_per_kwh": "price",
}


def soc_colour(soc: float) -> tuple[int, int, int]:
    """Battery fill colour: red below 20 %, amber below 50 %, green above."""
    if soc < 0.2:
        return (239, 68, 68)
    if soc < 0.5:
        return (245, 158, 11)
    return (34, 197, 94)


def hex_colour(rgb: tuple[int, int, int]) -> str:
    """``#rrggbb`` of an RGB triple (for the dashboard's charts)."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


_FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@lru_cache(maxsize=32)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (shipped with matplotlib) at ``size`` pixels."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(_FONT_DIR / name), size)
