"""Real input data: loaders of the bundled and user-supplied files, wind power through real
turbine power curves, and the synthetic profiles.

The public loaders are importable from here (``from evgrid_gym.data import
load_acn_sessions``); each raises :class:`DataFileError` naming the file, row and column of a
malformed file.
"""

from evgrid_gym.data.acn import load_acn_sessions
from evgrid_gym.data.elaad import ElaadSessionGenerator, load_elaad_statistics
from evgrid_gym.data.errors import DataFileError
from evgrid_gym.data.fleet import FleetSampler, load_ev_specs
from evgrid_gym.data.nrel import load_nrel_wind, wind_power_kw
from evgrid_gym.data.prices import load_day_ahead_prices
from evgrid_gym.data.simbench import load_simbench_profiles

__all__ = [
    "DataFileError",
    "ElaadSessionGenerator",
    "FleetSampler",
    "load_acn_sessions",
    "load_day_ahead_prices",
    "load_elaad_statistics",
    "load_ev_specs",
    "load_nrel_wind",
    "load_simbench_profiles",
    "wind_power_kw",
]
