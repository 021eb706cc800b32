"""Battery kernels (core/battery.py) against the reference, the ODE and hand-worked cases."""

import math

import numpy as np
import pytest
import reference as ref
from numpy.testing import assert_allclose

from evgrid_gym.core.battery import (
    battery_energy_kwh,
    max_charge_energy_kwh,
    max_discharge_energy_kwh,
    pilot_charge_energy_kwh,
    power_limits_kw,
)


def _random_charge_cases(rng, n):
    """Rows of (soc, capacity_kwh, max_power_kw, efficiency, transition_soc, dt_h)."""
    soc = rng.uniform(0.0, 1.0, n)
    soc[: n // 10] = rng.choice([0.0, 0.5, 0.8, 0.999999, 1.0], n // 10)
    capacity = rng.uniform(1.0, 120.0, n)
    power = rng.choice([0.0, 3.7, 11.0, 50.0, 350.0], n) * rng.uniform(0.5, 1.0, n)
    efficiency = rng.uniform(0.5, 1.0, n)
    efficiency[: n // 5] = 1.0
    transition = rng.uniform(0.05, 1.0, n)
    transition[n // 5 : n // 3] = rng.choice([0.8, 1.0], n // 3 - n // 5)
    transition[: n // 20] = soc[: n // 20]  # starting exactly at the transition
    dt = rng.choice([1 / 60, 0.25, 1.0, 6.0], n) * rng.uniform(0.01, 2.0, n)
    return np.column_stack([soc, capacity, power, efficiency, transition, dt])


def test_charge_matches_reference():
    cases = _random_charge_cases(np.random.default_rng(1), 3000)
    got = [max_charge_energy_kwh(*row) for row in cases]
    want = [ref.charge_gain_kwh(*row) for row in cases]
    assert_allclose(got, want, rtol=1e-9, atol=1e-12 * cases[:, 1].max())


def test_pilot_charge_matches_reference_and_full_pilot_is_the_maximum():
    rng = np.random.default_rng(2)
    cases = _random_charge_cases(rng, 3000)
    pilots = cases[:, 2] * rng.choice([0.0, 0.1, 0.5, 0.999, 1.0, 1.5, rng.uniform()], 3000)
    got = [pilot_charge_energy_kwh(row[0], row[1], pilot, *row[2:]) for row, pilot in
           zip(cases, pilots, strict=True)]  # fmt: skip
    want = [ref.pilot_charge_gain_kwh(row[0], row[1], pilot, *row[2:]) for row, pilot in
            zip(cases, pilots, strict=True)]  # fmt: skip
    assert_allclose(got, want, rtol=1e-9, atol=1e-12 * cases[:, 1].max())
    full = [pilot_charge_energy_kwh(row[0], row[1], row[2], *row[2:]) for row in cases]
    assert_allclose(full, [max_charge_energy_kwh(*row) for row in cases], rtol=1e-12, atol=0)
    # a lower pilot never gains more, and never more than the average rule would allow
    assert np.all(np.array(got) <= np.array(full) + 1e-12 * cases[:, 1].max())


def test_pilot_charge_hand_worked():
    # 60 kWh, P = 11 kW, theta 0.8, soc 0.7, pilot 5.5 kW, 1 h, no losses: the pilot's knee is
    # at soc 1 - 0.5 * 0.2 = 0.9; 5.5 kWh at the pilot reach soc 0.79167 < 0.9
    assert_allclose(pilot_charge_energy_kwh(0.7, 60.0, 5.5, 11.0, 1.0, 0.8, 1.0), 5.5)
    # from soc 0.85, 12 kWh to the knee take 2.18 h; in 0.25 h the pilot gives 1.375 kWh
    assert_allclose(pilot_charge_energy_kwh(0.85, 60.0, 5.5, 11.0, 1.0, 0.8, 0.25), 1.375)
    # from soc 0.9 (at the knee) the curve binds at once: (1 - 0.9) 60 (1 - exp(-11 / 12 h))
    assert_allclose(
        pilot_charge_energy_kwh(0.9, 60.0, 5.5, 11.0, 1.0, 0.8, 1.0),
        6.0 * (1.0 - math.exp(-11.0 / 12.0)),
    )


ACN_GRID = [
    (capacity, power, theta, soc, pilot_share, minutes)
    for capacity in (16.0, 60.0, 100.0)
    for power in (6.656, 50.0, 150.0)
    for theta in (0.5, 0.8, 0.95)
    for soc in (0.0, 0.3, 0.79, 0.8, 0.9, 0.999)
    for pilot_share in (0.05, 0.5, 1.0, 2.0)
    for minutes in (1.0, 5.0, 15.0, 60.0)
]


def _acnsim_gain_kwh(capacity, power, theta, soc, pilot_kw, minutes):
    """The energy acnportal's ``Linear2StageBattery`` (continuous charging) gains."""
    battery_model = pytest.importorskip("acnportal.acnsim.models.battery")
    battery = battery_model.Linear2StageBattery(
        capacity, soc * capacity, power, transition_soc=theta
    )
    voltage = 208.0
    battery.charge(pilot_kw * 1000.0 / voltage, voltage, minutes)
    return battery._current_charge - soc * capacity


def test_battery_modes_match_acnsim():
    """``battery.pilot: acn`` is ACN-Sim's ``Linear2StageBattery`` at every pilot; the default
    average rule is it at full pilot (ACN-Sim has no efficiency: 1 here)."""
    worst = 0.0
    for capacity, power, theta, soc, share, minutes in ACN_GRID:
        pilot = share * power
        want = _acnsim_gain_kwh(capacity, power, theta, soc, pilot, minutes)
        dt_h = minutes / 60.0
        got = pilot_charge_energy_kwh(soc, capacity, pilot, power, 1.0, theta, dt_h)
        worst = max(worst, abs(got - want))
        if share >= 1.0:
            full = max_charge_energy_kwh(soc, capacity, power, 1.0, theta, dt_h)
            worst = max(worst, abs(full - want))
    assert worst <= 1e-9, worst


def test_charge_matches_ode_integration():
    cases = _random_charge_cases(np.random.default_rng(2), 40)
    for row in cases:
        soc, capacity, power, efficiency, _, dt = row
        got = max_charge_energy_kwh(*row)
        want = ref.charge_gain_ode_kwh(*row, n_steps=2000)
        # RK4 error is tiny except for the step that crosses soc = 1 with theta = 1
        step_kwh = efficiency * power * dt / 2000
        assert_allclose(got, want, rtol=1e-6, atol=2 * step_kwh + 1e-9 * capacity)


@pytest.mark.parametrize(
    ("args", "want"),
    [
        # CC stage only: 11 kW at 100 % for 15 min
        ((0.2, 60.0, 11.0, 1.0, 0.8, 0.25), 2.75),
        # charge efficiency: the battery gets 90 % of the grid energy
        ((0.2, 60.0, 11.0, 0.9, 0.8, 0.25), 0.9 * 2.75),
        # CV from the transition: k = 10 / (10 * 0.2) = 5 /h, empty part 2 kWh decays
        ((0.8, 10.0, 10.0, 1.0, 0.8, 1.0), 2.0 * (1.0 - math.exp(-5.0))),
        # crossing: 1 kWh of CC takes 0.1 h, then 0.15 h of CV
        ((0.7, 10.0, 10.0, 1.0, 0.8, 0.25), 1.0 + 2.0 * (1.0 - math.exp(-0.75))),
        # theta = 1: constant power until full
        ((0.9, 10.0, 10.0, 1.0, 1.0, 1.0), 1.0),
        ((0.5, 10.0, 10.0, 0.5, 1.0, 0.5), 2.5),
        # full, or no power
        ((1.0, 10.0, 10.0, 1.0, 0.8, 1.0), 0.0),
        ((0.3, 10.0, 0.0, 1.0, 0.8, 1.0), 0.0),
    ],
)
def test_charge_hand_worked(args, want):
    assert_allclose(max_charge_energy_kwh(*args), want, rtol=1e-12, atol=1e-15)
    assert_allclose(ref.charge_gain_kwh(*args), want, rtol=1e-12, atol=1e-15)


def test_charge_is_exact_for_any_dt():
    """Exact integration: one tick of dt equals two ticks of dt/2 (and k ticks of dt/k)."""
    rng = np.random.default_rng(3)
    for row in _random_charge_cases(rng, 300):
        soc, capacity, power, efficiency, theta, dt = row
        whole = max_charge_energy_kwh(soc, capacity, power, efficiency, theta, dt)
        parts = 0.0
        s = soc
        n_parts = int(rng.integers(2, 7))
        for _ in range(n_parts):
            gain = max_charge_energy_kwh(s, capacity, power, efficiency, theta, dt / n_parts)
            parts += gain
            s += gain / capacity
        assert_allclose(parts, whole, rtol=1e-9, atol=1e-12 * capacity)


def test_charge_bounds():
    for row in _random_charge_cases(np.random.default_rng(4), 2000):
        soc, capacity, power, efficiency, theta, dt = row
        gain = max_charge_energy_kwh(soc, capacity, power, efficiency, theta, dt)
        assert 0.0 <= gain <= (1.0 - soc) * capacity * (1 + 1e-12)
        assert gain <= efficiency * power * dt * (1 + 1e-12)
        assert max_charge_energy_kwh(soc, capacity, power, efficiency, theta, 2 * dt) >= gain


def test_discharge_matches_reference():
    rng = np.random.default_rng(5)
    n = 2000
    cases = np.column_stack(
        [
            rng.uniform(0.0, 1.0, n),
            rng.uniform(1.0, 120.0, n),
            rng.choice([0.0, 5.0, 11.0, 50.0], n),
            rng.uniform(0.5, 1.0, n),
            rng.uniform(0.0, 0.6, n),
            rng.uniform(0.01, 4.0, n),
        ]
    )
    got = [max_discharge_energy_kwh(*row) for row in cases]
    want = [ref.discharge_loss_kwh(*row) for row in cases]
    assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("args", "want"),
    [
        # 10 kW at the grid for 15 min at 90 %: the battery loses 2.5 / 0.9 kWh
        ((0.5, 40.0, 10.0, 0.9, 0.2, 0.25), 2.5 / 0.9),
        # only 0.01 * 40 kWh above the floor
        ((0.21, 40.0, 10.0, 0.9, 0.2, 0.25), 0.4),
        ((0.2, 40.0, 10.0, 0.9, 0.2, 0.25), 0.0),
        ((0.1, 40.0, 10.0, 0.9, 0.2, 0.25), 0.0),
        ((0.5, 40.0, 0.0, 0.9, 0.2, 0.25), 0.0),
    ],
)
def test_discharge_hand_worked(args, want):
    assert_allclose(max_discharge_energy_kwh(*args), want, rtol=1e-12, atol=1e-15)


def test_power_limits_match_reference():
    rng = np.random.default_rng(6)
    for _ in range(2000):
        soc = rng.uniform(0.0, 1.0)
        row = (
            soc,
            rng.uniform(1.0, 120.0),
            rng.choice([rng.uniform(0.0, 1.0), 1.0, soc]),
            rng.choice([0.0, 7.4, 11.0, 150.0]),
            rng.choice([0.0, 0.0, 7.0, 11.0]),
            rng.uniform(0.5, 1.0),
            rng.choice([0.8, 1.0, rng.uniform(0.05, 1.0)]),
            rng.uniform(0.0, 0.5),
            rng.choice([0.1, 0.25, 1.0]),
        )
        assert_allclose(power_limits_kw(*row), ref.power_range_kw(*row), rtol=1e-9, atol=1e-9)


def test_power_limits_hand_worked():
    # target 0.55 of 40 kWh leaves 2 kWh; 11 kW CC would give 0.9 * 11 * 0.25 = 2.475 kWh
    low, high = power_limits_kw(0.5, 40.0, 0.55, 11.0, 0.0, 0.9, 0.8, 0.2, 0.25)
    assert_allclose((low, high), (0.0, 2.0 / (0.9 * 0.25)), rtol=1e-12)
    # below the target, CC: the full 11 kW; V2G has its own limit of 7 kW
    low, high = power_limits_kw(0.5, 40.0, 1.0, 11.0, 7.0, 0.9, 0.8, 0.2, 0.25)
    assert_allclose((low, high), (-7.0, 11.0), rtol=1e-12)
    # at the V2G floor no discharge; at the target no charge
    assert power_limits_kw(0.2, 40.0, 1.0, 11.0, 7.0, 0.9, 0.8, 0.2, 0.25)[0] == 0.0
    assert power_limits_kw(0.9, 40.0, 0.9, 11.0, 7.0, 0.9, 0.8, 0.2, 0.25)[1] == 0.0
    # V2G near the floor: 0.01 * 40 kWh in the battery gives 0.36 kWh at the grid in 0.25 h
    low, _ = power_limits_kw(0.21, 40.0, 1.0, 11.0, 7.0, 0.9, 0.8, 0.2, 0.25)
    assert_allclose(low, -0.4 * 0.9 / 0.25, rtol=1e-12)


def test_power_limits_are_attainable():
    """Applying ``high`` (or ``low``) for the tick moves the battery by exactly the bound."""
    rng = np.random.default_rng(7)
    for _ in range(1000):
        soc, capacity, eff, theta, dt = (
            rng.uniform(0.0, 1.0), rng.uniform(5.0, 100.0), rng.uniform(0.5, 1.0),
            rng.uniform(0.1, 1.0), rng.choice([0.25, 1.0]),
        )  # fmt: skip
        target = rng.uniform(0.0, 1.0)
        low, high = power_limits_kw(soc, capacity, target, 22.0, 11.0, eff, theta, 0.2, dt)
        gain = min(
            max_charge_energy_kwh(soc, capacity, 22.0, eff, theta, dt),
            max(target - soc, 0.0) * capacity,
        )
        loss = max_discharge_energy_kwh(soc, capacity, 11.0, eff, 0.2, dt)
        assert_allclose(battery_energy_kwh(high, eff, dt)[0], gain, rtol=1e-12, atol=1e-12)
        assert_allclose(battery_energy_kwh(low, eff, dt)[0], -loss, rtol=1e-12, atol=1e-12)
        assert soc + gain / capacity <= max(target, soc) + 1e-12
        assert soc - loss / capacity >= min(0.2, soc) - 1e-12


@pytest.mark.parametrize(
    ("power", "eff", "dt", "want"),
    [
        (10.0, 0.9, 0.25, (2.25, 0.25)),
        (-10.0, 0.9, 0.25, (-2.5 / 0.9, 2.5 / 0.9 - 2.5)),
        (0.0, 0.9, 0.25, (0.0, 0.0)),
        (7.0, 1.0, 1.0, (7.0, 0.0)),
    ],
)
def test_battery_energy_hand_worked(power, eff, dt, want):
    assert_allclose(battery_energy_kwh(power, eff, dt), want, rtol=1e-12, atol=1e-15)


def test_battery_energy_matches_reference_and_balances():
    rng = np.random.default_rng(8)
    for _ in range(2000):
        power, eff, dt = rng.uniform(-50.0, 50.0), rng.uniform(0.3, 1.0), rng.uniform(0.01, 2.0)
        delta, losses = battery_energy_kwh(power, eff, dt)
        assert_allclose((delta, losses), ref.battery_change_kwh(power, eff, dt), rtol=1e-12)
        assert losses >= 0.0
        # grid energy = battery energy + losses
        assert_allclose(power * dt, delta + losses, rtol=1e-12, atol=1e-12)
