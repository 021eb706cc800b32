"""``evgrid-gym plot``: the figures of ``simulate --log`` and ``benchmark --log`` folders
exist at their size and are not blank; the benchmark's figures label the reward in its
preset's unit; bad folders and flags end in one line, exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.figure import Figure
from PIL import Image

from evgrid_gym.cli import main
from evgrid_gym.config import load_scenario
from evgrid_gym.viz.plots import DPI, EPISODE_FIGURES

SIZES = {  # figsize in inches (evgrid_gym/viz/plots.py) x DPI
    "power_by_archetype": (12, 5.5),
    "energy_flows": (12, 6),
    "flexibility": (12, 8.5),
}


def _check_png(path, inches=None) -> None:
    """The PNG exists, has its figure's size, and has data drawn on it: axes, text and grid
    are black and grey, so some of its pixels must be coloured (a figure without its data
    has none)."""
    image = np.asarray(Image.open(path).convert("RGB")).astype(np.int64)
    if inches is not None:
        assert image.shape[:2] == (round(inches[1] * DPI), round(inches[0] * DPI)), path
    coloured = image.max(axis=2) - image.min(axis=2) > 30
    assert coloured.mean() > 0.002, f"{path}: no data drawn ({coloured.mean():.2%} coloured)"


def test_simulate_log_then_plot_draws_four_figures(tmp_path, capsys):
    log = tmp_path / "run"
    code = main(["simulate", "--scenario", "residential_archetypes", "--days", "1",
                 "--policy", "edf", "--seed", "3", "--log", str(log)])  # fmt: skip
    assert code == 0
    assert f"wrote the episode's log to {log}" in capsys.readouterr().out
    assert json.loads((log / "episode.json").read_text())["policy"] == "edf"
    assert main(["plot", str(log)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(log / f"{name}.png") for name in EPISODE_FIGURES]
    for name in EPISODE_FIGURES:
        _check_png(log / f"{name}.png", SIZES.get(name))
    # one panel per archetype: 4 archetypes, 2.6 inches each and 1.2 for the title
    _check_png(log / "soc_by_archetype.png", (12, 2.6 * 4 + 1.2))


def test_benchmark_log_then_plot_draws_every_episode_and_the_policies(tmp_path, capsys):
    out = tmp_path / "bench"
    flags = ["--policies", "uncontrolled,optimal", "--out", str(out), "--log", str(out)]
    assert main(["benchmark", "--scenario", "electra_station", "--episodes", "1", *flags]) == 0
    capsys.readouterr()
    assert main(["plot", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    assert len(printed) == 2 * len(EPISODE_FIGURES) + 1  # 2 policies x 1 episode, benchmark
    assert printed[-1] == str(out / "benchmark.png")
    _check_png(out / "benchmark.png")
    _check_png(out / "optimal" / "seed_0" / "flexibility.png", SIZES["flexibility"])


@pytest.fixture
def saved_figures(monkeypatch) -> dict[str, Figure]:
    """The figures saved while the test runs, by file name (pyplot's figures included)."""
    saved = {}
    savefig = Figure.savefig

    def record(figure, path, *args, **kwargs):
        saved[Path(path).name] = figure
        return savefig(figure, path, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    return saved


@pytest.mark.parametrize("preset, unit", [("profit", "EUR"), ("satisfaction", "kWh")])
def test_benchmark_figures_give_the_reward_in_its_presets_unit(
    tmp_path, capsys, saved_figures, preset, unit
):
    data = load_scenario("electra_station").model_dump(mode="json")
    data["reward"] |= {"name": preset}
    scenario = tmp_path / f"{preset}.yaml"
    scenario.write_text(yaml.safe_dump(data))
    out = tmp_path / "bench"
    flags = ["--episodes", "1", "--policies", "uncontrolled", "--out", str(out)]
    assert main(["benchmark", "--scenario", str(scenario), *flags]) == 0
    assert main(["plot", str(out)]) == 0
    capsys.readouterr()
    assert set(pd.read_csv(out / "results.csv")["reward_unit"]) == {unit}
    titles = [ax.get_title() for ax in saved_figures["kpis.png"].axes]
    assert titles == [f"reward ({unit})", "external energy cost (EUR)", "unmet energy (kWh)",
                      "renewable share"]  # fmt: skip
    assert saved_figures["benchmark.png"].axes[0].get_xlabel() == f"episode reward ({unit})"


@pytest.mark.parametrize("units", [None, ["EUR", "kWh"]], ids=["no unit column", "two units"])
def test_results_without_one_reward_unit_plot_the_reward_without_a_unit(
    tmp_path, capsys, saved_figures, units
):
    # results.csv written before the reward_unit column: its preset, so its unit, is unknown
    results = pd.DataFrame({"policy": ["edf", "lsf"], "episode": [0, 0], "seed": [0, 0],
                            "reward": [1.0, 2.0], "optimality_gap": [np.nan, np.nan]})  # fmt: skip
    if units is not None:
        results["reward_unit"] = units
    results.to_csv(tmp_path / "results.csv", index=False)
    assert main(["plot", str(tmp_path)]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "benchmark.png")]
    assert saved_figures["benchmark.png"].axes[0].get_xlabel() == "episode reward"


def test_plot_names_the_file_it_expected(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{tmp_path / 'episode.json'}" in err
    assert "results.csv" in err
    (tmp_path / "episode.json").write_text("{}")
    assert main(["plot", str(tmp_path)]) == 2
    assert "expected sessions.csv of an episode log" in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "results.csv: not a CSV table"),
        ("policy,episode\nedf,0\n", "results.csv: no column 'seed'"),
        ("episode,seed,reward,optimality_gap\n0,0,1.0,\n", "results.csv: no column 'policy'"),
        ("policy,episode,seed,reward,optimality_gap\nedf,0,0,1.0,\nlsf,0,0,lots,\n",
         "results.csv, row 3, column 'reward': got 'lots'; must be a number"),
    ],
    ids=["empty", "missing number column", "missing policy", "not a number"],
)  # fmt: skip
def test_a_broken_results_table_is_named_not_drawn(tmp_path, capsys, text, message):
    (tmp_path / "results.csv").write_text(text)
    assert main(["plot", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "benchmark.png").exists()


def test_a_broken_episode_table_is_named(tmp_path, capsys):
    log = tmp_path / "log"
    assert main(["simulate", "--scenario", "electra_station", "--days", "1",
                 "--log", str(log)]) == 0  # fmt: skip
    capsys.readouterr()
    (log / "ticks.csv").write_text("tick,plugged_evs\n0,1\nsoon,2\n")
    assert main(["plot", str(log)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ticks.csv, row 3, column 'tick': got 'soon'" in err


@pytest.mark.parametrize("command", ["simulate", "benchmark"])
def test_a_log_flag_that_is_no_folder_is_rejected(tmp_path, capsys, command):
    file = tmp_path / "file"
    file.write_text("")
    assert main([command, "--log", str(file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("evgrid-gym: error: --log: got") and err.count("\n") == 1
