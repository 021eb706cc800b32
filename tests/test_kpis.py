"""The KPI registry: the README's tables, the episode KPIs, the reward's unit."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from baselines.optimal import SUPPORTED_KPIS
from evgrid_gym import load_scenario
from evgrid_gym.cli import main
from evgrid_gym.config import REWARD_PRESETS, RewardConfig
from evgrid_gym.core import layout as L
from evgrid_gym.kpis import EPISODE_KPIS, MIXED_UNITS, episode_kpis, reward_unit

README = Path(__file__).parent.parent / "README.md"
ROW = re.compile(r"^(?P<label>[a-zA-Z][a-zA-Z ]*?)\s+(?P<value>-?\d+\.\d+)\s+(?P<unit>.+)$")
REWARD_CELL = {"": "-", "term": "yes (not the optimum)", "optimal": "yes"}
SHOWN = {True: "yes", False: "-"}


def _readme_table(header: str) -> list[str]:
    """The rows of the README table under ``header`` (its first line)."""
    lines = README.read_text().splitlines()
    assert header in lines, f"README has no table {header!r}"
    rows = []
    for line in lines[lines.index(header) + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def _check(header: str, expected: list[str]) -> None:
    rows = _readme_table(header)
    assert rows == expected, "README table out of date; it should read:\n" + "\n".join(
        [header, "|" + "---|" * header.count(" | ") + "---|", *expected]
    )


def test_readme_tick_kpi_table_is_the_registry():
    _check(
        "| KPI | unit | episode | reward term | description |",
        [
            f"| `{k.name}` | {k.unit} | {k.episode} | {REWARD_CELL[k.reward]} | {k.description} |"
            for k in L.KPIS
        ],
    )


def test_readme_episode_kpi_table_is_the_registry():
    _check(
        "| episode KPI | unit | label | simulate | dashboard | description |",
        [
            f"| `{k.name}` | {k.unit} | {k.label} | {SHOWN[k.cli]} | {SHOWN[k.dashboard]} | "
            f"{k.description} |"
            for k in EPISODE_KPIS
        ],
    )


def test_registry_generates_the_lists():
    # the facts the registry must keep (from the kernels and the optimal model)
    peaks = ("import_kw", "clearing_price_eur_per_kwh", "voltage_max_pu", "line_loading_pct",
             "transformer_loading_pct")  # fmt: skip
    assert L.KPI_EPISODE_MAX == tuple(L.KPI[name] for name in peaks)
    assert L.KPI_EPISODE_MIN == (L.KPI["voltage_min_pu"],)
    assert "own_energy_used_kwh" in L.REWARD_TERMS
    assert "own_energy_used_kwh" not in SUPPORTED_KPIS
    assert set(SUPPORTED_KPIS) == set(L.REWARD_TERMS) - {"own_energy_used_kwh"}
    for preset in REWARD_PRESETS.values():
        assert set(preset) <= set(SUPPORTED_KPIS)
    # every KPI_* index names exactly one registered KPI, as a plain int (numba constant)
    indices = {
        name: value
        for name, value in vars(L).items()
        if name.startswith("KPI_") and isinstance(value, int)
    }
    assert all(type(i) is int for i in indices.values())
    assert sorted(indices.values()) == list(range(L.N_KPI))
    assert L.KPI_NAMES[L.KPI_OWN_USED] == "own_energy_used_kwh"
    assert L.KPI_NAMES[L.KPI_WIND_OUTAGE] == "wind_outage_kwh"


@pytest.mark.parametrize(
    "fields, match",
    [
        (("ev_energy_kwh", "kWh", "again"), "registered twice"),
        (("new_mwh", "MWh", "an unknown unit"), "MWh"),
        (("new_kwh", "kWh", "an unknown aggregation", "mean"), "mean"),
        (("new_kwh", "kWh", "an unknown reward role", "sum", "yes"), "yes"),
    ],
)
def test_registry_rejects_bad_entries(fields, match):
    with pytest.raises(ValueError, match=match):
        L._kpi(*fields)
    assert len(L._REGISTERED) == L.N_KPI  # nothing registered


def _totals(**values: float) -> np.ndarray:
    totals = np.zeros(L.N_KPI)
    for name, value in values.items():
        totals[L.KPI[name]] = value
    return totals


def test_episode_kpis_by_hand():
    one = _totals(
        own_energy_used_kwh=3.0, external_energy_kwh=1.0, requested_kwh=8.0, delivered_kwh=6.0,
        reservation_requests=4.0, reservations_confirmed=1.0, ev_energy_kwh=5.5,
        energy_cost_eur=2.25, import_kw=7.0, revenue_eur=9.0,
    )  # fmt: skip
    idle = _totals()
    kpis = episode_kpis(one)
    assert kpis["renewable_share"] == 0.75
    assert kpis["satisfaction"] == 0.75
    assert kpis["acceptance_rate"] == 0.25
    assert (kpis["energy_delivered_kwh"], kpis["cost_eur"]) == (5.5, 2.25)
    assert (kpis["peak_import_kw"], kpis["revenue_eur"]) == (7.0, 9.0)
    assert kpis["total_delivered_kwh"] == 6.0
    assert all(type(v) is float for v in kpis.values())
    # nothing consumed, requested or reserved: share 0, satisfaction and acceptance 1
    empty = episode_kpis(idle)
    assert (empty["renewable_share"], empty["satisfaction"], empty["acceptance_rate"]) == (0, 1, 1)
    both = episode_kpis(np.stack([one, idle]))
    np.testing.assert_array_equal(both["renewable_share"], [0.75, 0.0])
    np.testing.assert_array_equal(both["satisfaction"], [0.75, 1.0])


@pytest.mark.parametrize(
    "reward, unit",
    [
        ({"name": "profit"}, "EUR"),
        ({"name": "cost"}, "EUR"),
        ({"name": "satisfaction"}, "kWh"),
        ({"name": "custom", "weights": {"unmet_energy_kwh": -1, "ev_energy_kwh": 0.5}}, "kWh"),
        ({"name": "custom", "weights": {"revenue_eur": 1.0, "unmet_energy_kwh": 0.0}}, "EUR"),
        ({"name": "custom", "weights": {"revenue_eur": 1.0, "overload_kwh": -1}}, MIXED_UNITS),
    ],
)
def test_reward_unit(reward, unit):
    assert reward_unit(RewardConfig(**reward).kpi_weights) == unit


def test_simulate_prints_the_reward_in_its_unit(tmp_path, capsys):
    data = load_scenario("default").model_dump(mode="json")
    data["reward"] |= {"name": "satisfaction"}
    path = tmp_path / "satisfaction.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["simulate", "--scenario", str(path), "--days", "1"]) == 0
    rows = {
        match["label"]: (match["value"], match["unit"])
        for match in map(ROW.match, capsys.readouterr().out.splitlines())
        if match
    }
    assert rows["reward"][1] == "kWh"
    # the satisfaction reward is minus the unmet energy minus the overload, in kWh
    unmet, overload = float(rows["unmet energy"][0]), float(rows["overload"][0])
    assert float(rows["reward"][0]) == pytest.approx(-unmet - overload, abs=2e-3)
