"""What the package exposes, and the layers: ``evgrid_gym`` does not import ``baselines``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import evgrid_gym.data

ROOT = Path(__file__).parent.parent

# every module of evgrid_gym imported with ``baselines`` blocked: only functions that run a
# baseline (the CLI's commands, the service's policy factory) may import it, when called. A
# module of an extra that ``all`` leaves out (``ray``: RLlib) is skipped where it is missing.
BLOCKED_BASELINES = textwrap.dedent(
    """
    import importlib, importlib.abc, importlib.util, pkgutil, sys, traceback

    class NoBaselines(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] == "baselines":
                raise ImportError(f"{name} imported")

    sys.meta_path.insert(0, NoBaselines())
    import evgrid_gym

    names = [m.name for m in pkgutil.walk_packages(evgrid_gym.__path__, "evgrid_gym.")]
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != "ray" or importlib.util.find_spec("ray") is not None:
                print(name, traceback.format_exc(limit=-3))
        except Exception:
            print(name, traceback.format_exc(limit=-3))
    print(len(names), "modules")
    """
)


def test_no_evgrid_gym_module_imports_baselines():
    result = subprocess.run(
        [sys.executable, "-c", BLOCKED_BASELINES], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    *failures, count = result.stdout.strip().splitlines()
    assert not failures, "\n".join(failures)
    assert int(count.split()[0]) > 50  # every module was walked (56 today)


def test_public_loaders_import_from_evgrid_gym_data():
    from evgrid_gym.data.acn import load_acn_sessions
    from evgrid_gym.data.elaad import ElaadSessionGenerator, load_elaad_statistics
    from evgrid_gym.data.errors import DataFileError
    from evgrid_gym.data.fleet import FleetSampler, load_ev_specs
    from evgrid_gym.data.nrel import load_nrel_wind, wind_power_kw
    from evgrid_gym.data.prices import load_day_ahead_prices
    from evgrid_gym.data.simbench import load_simbench_profiles

    public = {
        "load_acn_sessions": load_acn_sessions,
        "load_day_ahead_prices": load_day_ahead_prices,
        "load_nrel_wind": load_nrel_wind,
        "wind_power_kw": wind_power_kw,
        "load_simbench_profiles": load_simbench_profiles,
        "load_elaad_statistics": load_elaad_statistics,
        "ElaadSessionGenerator": ElaadSessionGenerator,
        "load_ev_specs": load_ev_specs,
        "FleetSampler": FleetSampler,
        "DataFileError": DataFileError,
    }
    assert sorted(evgrid_gym.data.__all__) == sorted(public)
    for name, obj in public.items():
        assert getattr(evgrid_gym.data, name) is obj, name
