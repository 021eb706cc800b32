"""Names of the real data shipped with the package (see ``bundled/NOTICE.md``).

Scenario files refer to bundled data by these names; any other value is taken as a path.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

BUNDLED = {
    "caltech": "acn/caltech_2019-05_2021-08.csv.gz",
    "nl_day_ahead": "prices/netherlands_day_ahead_2015_2024.csv.gz",
    "nrel_wind": "wind/nrel_wtk_39.97_-128.77_2019_15min.csv.gz",
    "simbench_households": "simbench/household_load_profiles_2016_15min.csv.gz",
    "simbench_renewables": "simbench/renewable_profiles_2016_15min.csv.gz",
    "elaad": "elaad",
    "nl_fleet": "ev_specs/ev_specs.json",
    "nl_fleet_v2g": "ev_specs/ev_specs_v2g_enabled2024.json",
    "archetypes_residential": "archetypes/archetypes_residential.yaml",
    "simbench_lv_semiurb4": "networks/simbench_1-LV-semiurb4--0-sw.json",
}


def data_path(name_or_path: str) -> Path:
    """The file of a bundled data name, or ``name_or_path`` itself as a path."""
    if name_or_path in BUNDLED:
        return Path(str(resources.files("evgrid_gym") / "data" / "bundled")) / BUNDLED[name_or_path]
    return Path(name_or_path)
