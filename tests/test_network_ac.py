"""LinDistFlow against pandapower's AC power flow on the bundled network (issue 19's bound:
voltages within 0.005 pu, line loadings within 3 percentage points, where the AC solution is
within the limits). ``benchmarks/bench_network.py`` runs more cases and prints the errors."""

import dataclasses

import numpy as np
import pytest

pytest.importorskip("pandapower")

from evgrid_gym.core.layout import BR_R_OHM, BR_RATED_KVA  # noqa: E402
from evgrid_gym.grid import NetworkConfig, network_arrays  # noqa: E402
from evgrid_gym.grid.validation import ACModel, compare, random_loads, to_pandapower  # noqa: E402


@pytest.fixture(scope="module")
def bundled():
    config = NetworkConfig.model_validate({"description": "simbench_lv_semiurb4"})
    arrays = network_arrays(config, [])
    return arrays, ACModel(to_pandapower(config.description), arrays)


def _errors(arrays, model, n_cases, **loads):
    rng = np.random.default_rng(0)
    return compare(model, arrays, [random_loads(arrays, rng, **loads) for _ in range(n_cases)])


def test_lindistflow_close_to_ac_within_limits(bundled):
    # stations up to 60 kW either way (the `default` scenario's grid connections), households
    # up to 7.2 kW on every bus: lines up to about 75 % loaded
    errors = _errors(*bundled, 60, station_kw=(-60.0, 60.0))
    assert errors.within_cases >= 50
    assert errors.max_line_loading_pct > 70.0
    assert errors.within_voltage_pu <= 0.005
    assert errors.within_line_pp <= 3.0
    assert errors.within_transformer_pp <= 3.0


def test_lindistflow_error_under_stress(bundled):
    # single stations up to 180 kW, near a cable's ampacity: the losses LinDistFlow neglects
    # reach about 4 % of a feeder's flow (measured worst 3.02 pp, bench_network.py)
    errors = _errors(*bundled, 60)
    assert errors.max_line_loading_pct > 95.0
    assert errors.within_voltage_pu <= 0.005
    assert errors.within_line_pp <= 3.5


def test_comparison_sees_a_wrong_model(bundled):
    # the check can fail: with every resistance doubled the voltages drift off, with every
    # rating 10 % low the loadings do
    arrays, model = bundled
    for field, factor, error in ((BR_R_OHM, 2.0, "within_voltage_pu"),
                                 (BR_RATED_KVA, 0.9, "within_line_pp"),
                                 (BR_RATED_KVA, 0.9, "within_transformer_pp")):  # fmt: skip
        wrong = np.array(arrays.branch_f)
        wrong[field] *= factor
        errors = _errors(dataclasses.replace(arrays, branch_f=wrong), model, 20)
        assert getattr(errors, error) > (0.005 if field == BR_R_OHM else 3.0)
