"""Loader of SimBench per-unit load and generation profiles.

Meinecke et al., "SimBench - A Benchmark Dataset of Electric Power Systems to Compare
Innovative Solutions based on Power Flow Analysis", Energies 13 (2020); data ODbL 1.0 / DbCL.
Files have a ``time`` column (``dd.mm.YYYY HH:MM``, 15 min, the year 2016 in German local
time, Europe/Berlin: 27 March 02:00..02:45 is absent and 30 October 02:00..02:45 appears twice,
first summer then winter time) and one column per profile, per unit: households relative to
their annual peak (peak = 1), wind (``WP*``) and PV (``PV*``) relative to installed power.
Wind profiles hold tiny negative values (down to about -1e-5: standby consumption); they are
loaded as they are and floored at 0 by :func:`generation_kw`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evgrid_gym.data.errors import (
    DataFileError,
    fill_gaps,
    finite_numbers,
    parse_times,
    read_csv,
    require_columns,
)

try:  # pandas < 3 localises with pytz, whose errors are not ValueErrors
    from pytz import InvalidTimeError as _PytzTimeError
except ImportError:  # pragma: no cover
    _PytzTimeError = ValueError

SIMBENCH_TIMEZONE = "Europe/Berlin"


def load_simbench_profiles(path) -> pd.DataFrame:
    """Loads a SimBench profile file.

    Returns:
        Column ``time`` (tz-aware, Europe/Berlin; a repeated autumn hour is taken in file
        order, summer time first) and one float column per profile, renamed to
        ``<profile>_pu`` (``H0-A_pload`` -> ``H0-A_pu``, ``WP1`` -> ``WP1_pu``).

    Gaps of up to :data:`~evgrid_gym.data.errors.MAX_GAP_H` are interpolated with a warning.

    Raises:
        DataFileError: missing, truncated or corrupt file, missing ``time`` column, empty
            file, wrong delimiter, unparsable time, a local time that does not exist or whose
            repeat is missing, NaN or infinite values, a longer gap (naming the line and the
            column).
    """
    frame = read_csv(path)
    require_columns(path, frame, ("time",))
    lines = np.arange(len(frame)) + 2
    times = parse_times(path, frame["time"], "time", lines, format="%d.%m.%Y %H:%M")
    try:
        local = times.dt.tz_localize(SIMBENCH_TIMEZONE, ambiguous="infer", nonexistent="NaT")
    except (ValueError, _PytzTimeError) as err:  # an unpaired ambiguous (autumn) time
        raise DataFileError(path, f"not a {SIMBENCH_TIMEZONE} time: {err}", column="time") from None
    if local.isna().any():  # a time the spring clock change skips
        skipped = times[local.isna()].iloc[0]
        raise DataFileError(
            path, f"not a {SIMBENCH_TIMEZONE} time: {skipped} is nonexistent", column="time"
        )
    table = pd.DataFrame({"time": local})
    for column in frame.columns.drop("time"):
        values = finite_numbers(path, frame[column], column, lines, non_negative=False)
        table[f"{str(column).removesuffix('_pload')}_pu"] = values.to_numpy()
    return fill_gaps(path, table, lines, "time")


def household_power_kw(
    profile_pu: np.ndarray,
    dt_h: float,
    annual_kwh: float | None = None,
    peak_kw: float | None = None,
) -> np.ndarray:
    """Scales a household per-unit profile to kW, by its annual energy or by its peak.

    Args:
        profile_pu: a whole year of a SimBench household profile (peak = 1).
        dt_h: its resolution, h.
        annual_kwh: the energy the profile must add up to over the year, kWh.
        peak_kw: the profile's peak, kW (give exactly one of the two).

    Raises:
        ValueError: neither or both of ``annual_kwh`` and ``peak_kw`` given.
    """
    if (annual_kwh is None) == (peak_kw is None):
        raise ValueError("give exactly one of annual_kwh and peak_kw")
    if peak_kw is not None:
        return profile_pu * peak_kw
    return profile_pu * annual_kwh / (profile_pu.sum() * dt_h)


def generation_kw(profile_pu: np.ndarray, installed_kw: float) -> np.ndarray:
    """Scales a wind or PV per-unit profile to kW; negative values (standby) become 0."""
    return np.maximum(profile_pu, 0.0) * installed_kw
