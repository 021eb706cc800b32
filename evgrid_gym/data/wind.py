"""Wind turbine power from wind speed through windpowerlib's turbine library.

Power curves come from the Open Energy Platform turbine library bundled with ``windpowerlib``
(Haas et al., "windpowerlib: A Python library to model wind power plants", JOSS 2024); the wind
speed is corrected from its measurement height to the hub height with the Hellman power law
(exponent 1/7, windpowerlib's ``wind_speed.hellman`` default).
"""

from __future__ import annotations

import difflib
import warnings
from functools import cache

import numpy as np
from windpowerlib import WindTurbine, get_turbine_types, wind_speed


class UnknownTurbineError(ValueError):
    """The turbine type is not in windpowerlib's turbine library."""


@cache
def turbine_types() -> tuple[str, ...]:
    """Turbine types of windpowerlib's turbine library that have a power curve, sorted."""
    table = get_turbine_types(print_out=False)
    return tuple(sorted(table.loc[table["has_power_curve"], "turbine_type"]))


@cache
def power_curve_kw(turbine_type: str) -> tuple[np.ndarray, np.ndarray]:
    """Power curve of a turbine type: ``(wind_speed_m_s, power_kw)``, both shape (n,).

    Raises:
        UnknownTurbineError: the name is not a turbine with a power curve in windpowerlib's
            library; the message suggests the closest names.
    """
    known = turbine_types()
    if turbine_type not in known:
        close = difflib.get_close_matches(turbine_type, known, n=5, cutoff=0.0)
        raise UnknownTurbineError(
            f"got {turbine_type!r}; must be a turbine type with a power curve from "
            f"windpowerlib.get_turbine_types() ({len(known)} types), e.g. {close}"
        )
    with warnings.catch_warnings():
        # windpowerlib 0.2.2 calls a pandas method that pandas 3 deprecates; not ours to fix
        warnings.filterwarnings("ignore", module="windpowerlib")
        warnings.filterwarnings("ignore", message=".*inplace.*")
        curve = WindTurbine(turbine_type=turbine_type, hub_height=100.0).power_curve
    return curve["wind_speed"].to_numpy(float), curve["value"].to_numpy(float) / 1000.0


def turbine_power_kw(
    speed_m_s: np.ndarray, measurement_height_m: float, hub_height_m: float, turbine_type: str
) -> np.ndarray:
    """Electrical output of one turbine, kW, for wind speeds measured at another height.

    Args:
        speed_m_s: wind speed at ``measurement_height_m``, m/s, any shape.
        measurement_height_m: height of the measurement, m.
        hub_height_m: hub height of the turbine, m.
        turbine_type: windpowerlib turbine name.

    Returns:
        Power, kW, same shape as ``speed_m_s``; 0 outside the power curve (cut-in/cut-out).
    """
    hub_speed = wind_speed.hellman(speed_m_s, measurement_height_m, hub_height_m)
    speeds, power = power_curve_kw(turbine_type)
    return np.interp(hub_speed, speeds, power, left=0.0, right=0.0)
