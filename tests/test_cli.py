"""``evgrid-gym simulate``: prints the headline KPIs; bad input exits with code 2."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from baselines import make_policy
from evgrid_gym import EVGridEnv, bundled_scenarios, load_scenario
from evgrid_gym.cli import main

# label printed by the CLI -> unit (the KPIs the issue asks for)
KPI_LINES = {
    "energy delivered": "kWh",
    "unmet energy": "kWh",
    "external energy cost": "EUR",
    "renewable share": "-",
    "external energy": "kWh",
    "peak import": "kW",
    "overload": "kWh",
}
_LINE = re.compile(r"^(?P<label>[a-zA-Z][a-zA-Z ]*?)\s+(?P<value>-?\d+\.\d+)\s+(?P<unit>\S+)$")
_TICKS = re.compile(r"(\d+) ticks of ([\d.]+) h")


def _parse(stdout: str) -> dict[str, tuple[float, str]]:
    rows = {}
    for line in stdout.splitlines():
        match = _LINE.match(line.strip())
        if match:
            rows[match["label"]] = (float(match["value"]), match["unit"])
    missing = [label for label in KPI_LINES if label not in rows]
    assert not missing, f"KPIs {missing} not printed:\n{stdout}"
    for label, unit in KPI_LINES.items():
        assert rows[label][1] == unit, f"{label}: unit {rows[label][1]!r}, expected {unit!r}"
    return rows


def _ticks(stdout: str) -> int:
    match = _TICKS.search(stdout)
    assert match, f"no 'N ticks of DT h' in:\n{stdout}"
    return int(match[1])


def _direct_run(scenario, policy: str, seed: int) -> list[dict]:
    """Infos of one episode run through the env directly, without the CLI."""
    env = EVGridEnv(scenario)
    agent = make_policy(policy, env.scenario)
    agent.reset(seed=seed)
    observation, info = env.reset(seed=seed)
    infos, terminated = [info], False
    while not terminated:
        observation, _, terminated, _, info = env.step(agent.act(observation, info))
        infos.append(info)
    return infos


def test_simulate_prints_the_kpis_of_the_episode(capsys):
    code = main(["simulate", "--scenario", "default", "--policy", "uncontrolled", "--days", "1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    config = load_scenario("default")
    assert _ticks(out) == round(24 / config.dt_h)
    assert "default" in out and "uncontrolled" in out
    rows = _parse(out)
    # the printed numbers are the episode's, computed here from the per-tick infos
    infos = _direct_run("default", "uncontrolled", seed=0)
    expected = {
        "energy delivered": sum(i["ev_energy_kwh"] for i in infos),
        "unmet energy": sum(i["unmet_energy_kwh"] for i in infos),
        "external energy cost": sum(i["energy_cost_eur"] for i in infos),
        "external energy": sum(i["external_energy_kwh"] for i in infos),
        "peak import": max(i["import_kw"] for i in infos),
        "overload": sum(i["overload_kwh"] for i in infos),
    }
    own = sum(i["own_energy_used_kwh"] for i in infos)
    expected["renewable share"] = own / (own + expected["external energy"])
    for label, value in expected.items():
        assert rows[label][0] == pytest.approx(value, abs=6e-4), label
    assert rows["energy delivered"][0] > 0.0
    assert 0.0 <= rows["renewable share"][0] <= 1.0


def test_simulate_cost_is_external_energy_at_the_fixed_price(capsys):
    # scenario2_high_demand has a fixed supplier price, so cost = price x external energy
    code = main(["simulate", "--scenario", "scenario2_high_demand", "--days", "1", "--seed", "3"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = _parse(out)
    config = load_scenario("scenario2_high_demand")
    price = config.supplier.price_eur_per_kwh
    assert config.supplier.price_profile == "fixed"
    assert rows["external energy"][0] > 0.0
    expected = price * rows["external energy"][0]
    assert rows["external energy cost"][0] == pytest.approx(expected, abs=1e-3 + 5e-4 * price)
    # the peak import power is at least the mean import power
    mean_kw = rows["external energy"][0] / (_ticks(out) * config.dt_h)
    assert rows["peak import"][0] >= mean_kw - 1e-3


@pytest.mark.parametrize("days", ["0.5", "2"])
def test_simulate_days_sets_the_episode_length(capsys, days):
    code = main(["simulate", "--scenario", "scenario1_normal", "--days", days])
    out, err = capsys.readouterr()
    assert code == 0, err
    dt_h = load_scenario("scenario1_normal").dt_h
    assert _ticks(out) == round(float(days) * 24 / dt_h)


def test_simulate_accepts_a_yaml_path_and_the_random_policy(capsys, tmp_path, tiny_scenario):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_scenario()))
    code = main(["simulate", "--scenario", str(path), "--policy", "random", "--seed", "1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert _ticks(out) == tiny_scenario()["episode_ticks"]
    _parse(out)


def test_simulate_same_seed_same_output(capsys):
    outputs = []
    for _ in range(2):
        assert main(["simulate", "--scenario", "default", "--policy", "random", "--seed", "5"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]


def test_unknown_scenario_exits_with_code_2(capsys):
    code = main(["simulate", "--scenario", "no_such_scenario", "--days", "1"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "error" in err and "no_such_scenario" in err
    for name in bundled_scenarios():
        assert name in err


def test_unknown_policy_exits_with_code_2(capsys):
    code = main(["simulate", "--scenario", "default", "--policy", "clairvoyant", "--days", "1"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "error" in err and "'clairvoyant'" in err
    assert "uncontrolled" in err and "random" in err


def test_invalid_scenario_file_exits_with_code_2(capsys, tmp_path, tiny_scenario):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tiny_scenario({"stations[0].grid_capacity_kw": -1})))
    code = main(["simulate", "--scenario", str(path)])
    _, err = capsys.readouterr()
    assert code == 2
    assert "stations[0].grid_capacity_kw" in err and "got -1" in err


def test_bad_degradation_exits_with_code_2(capsys, tmp_path, tiny_scenario):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tiny_scenario({"degradation.ev.cycle_life": -4600})))
    code = main(["simulate", "--scenario", str(path)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "degradation.ev.cycle_life" in err and "got -4600" in err and "greater than 0" in err


def _command() -> list[str]:
    """The installed console script, else the module entry point."""
    script = Path(sys.executable).with_name("evgrid-gym")
    return [str(script)] if script.exists() else [sys.executable, "-m", "evgrid_gym.cli"]


def test_console_script_runs_simulate():
    result = subprocess.run(
        [*_command(), "simulate", "--scenario", "default", "--policy", "uncontrolled",
         "--days", "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = _parse(result.stdout)
    assert _ticks(result.stdout) == 96
    assert np.isfinite([value for value, _ in rows.values()]).all()


def test_module_entry_point_reports_bad_policy_with_code_2():
    result = subprocess.run(
        [sys.executable, "-m", "evgrid_gym.cli", "simulate", "--policy", "bogus"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "bogus" in result.stderr and "uncontrolled" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "argv, flag, value",
    [
        (["benchmark", "--episodes", "0"], "--episodes", "0"),
        (["benchmark", "--episodes", "-1"], "--episodes", "-1"),
        (["simulate", "--seed", "-1"], "--seed", "-1"),
        (["benchmark", "--agent", "nosuch.zip"], "--agent", "'nosuch.zip'"),
        (["benchmark", "--policies", "uncontrolled,"], "--policies", "'uncontrolled,'"),
        (["benchmark", "--policies", "a,"], "--policies", "'a,'"),
        (["simulate", "--days", "0"], "--days", "'0'"),
        (["simulate", "--days", "nan"], "--days", "'nan'"),
        (["simulate", "--days", "0.001"], "--days", "0.001"),  # less than one tick
        (["simulate", "--date", "2019-02-30"], "--date", "'2019-02-30'"),
        (["simulate", "--sessions", "nosuch.csv"], "--sessions", "'nosuch.csv'"),
        (["train", "--num-envs", "0"], "--num-envs", "0"),
        # flags of one framework or backend given to another
        (["train", "--agents", "central"], "--agents", "'central'"),
        (["train", "--num-env-runners", "2"], "--num-env-runners", "2"),
        (["train", "--address", "auto"], "--address", "'auto'"),
        (["train", "--framework", "rllib", "--num-envs", "4"], "--num-envs", "4"),
        (["train", "--framework", "rllib", "--algo", "sac"], "--algo", "'sac'"),
        (["train", "--framework", "rllib", "--num-env-runners", "-1"], "--num-env-runners", "-1"),
        (["train", "--reward", "team"], "--reward", "'team'"),
        (
            ["train", "--framework", "rllib", "--agents", "central", "--reward", "team"],
            "--reward",
            "'team'",
        ),
        (["benchmark", "--address", "auto"], "--address", "'auto'"),
        (["benchmark", "--num-workers", "2"], "--num-workers", "2"),
        (["benchmark", "--backend", "ray", "--num-workers", "0"], "--num-workers", "0"),
    ],
)
def test_bad_flags_exit_with_one_line_naming_flag_and_value(capsys, argv, flag, value):
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("evgrid-gym: error:"), err
    assert flag in err and f"got {value}" in err, err


@pytest.mark.parametrize("out", ["file", "file/sub"])
def test_benchmark_checks_out_before_the_first_episode(capsys, tmp_path, monkeypatch, out):
    import baselines.benchmark

    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setattr(baselines.benchmark, "run_episode", None)  # must never be reached
    code = main(["benchmark", "--out", str(tmp_path / out), "--policies", "uncontrolled"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and "--out" in err and out in err, err


def test_benchmark_writes_results_after_every_episode(capsys, tmp_path, monkeypatch):
    import baselines.benchmark

    run_episode = baselines.benchmark.run_episode
    written = []

    def spy(env, policy, seed, **kwargs):  # what results.csv holds when an episode starts
        path = tmp_path / "results.csv"
        written.append(len(pd.read_csv(path)) if path.exists() else 0)
        if len(written) == 3:
            raise KeyboardInterrupt  # the user stops the run during the third episode
        return run_episode(env, policy, seed, **kwargs)

    monkeypatch.setattr(baselines.benchmark, "run_episode", spy)
    argv = ["benchmark", "--out", str(tmp_path), "--policies", "uncontrolled,edf"]
    code = main([*argv, "--episodes", "2", "--scenario", "electra_station"])
    _, err = capsys.readouterr()
    assert code == 130 and "interrupted" in err
    assert written == [0, 1, 2]
    kept = pd.read_csv(tmp_path / "results.csv")
    assert kept[["policy", "seed"]].values.tolist() == [["uncontrolled", 0], ["uncontrolled", 1]]


@pytest.mark.parametrize("policy", ["optimal", "mpc"])
def test_simulate_runs_the_planners(capsys, policy):
    code = main(["simulate", "--scenario", "electra_station", "--policy", policy, "--seed", "2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = _parse(out)
    # the planner beats uncontrolled charging on the same day
    assert main(["simulate", "--scenario", "electra_station", "--seed", "2"]) == 0
    baseline = _parse(capsys.readouterr().out)
    assert rows["reward"][0] > baseline["reward"][0]
    assert re.search(r"^solver\s+optimal", out, re.MULTILINE), out


def test_help_lists_scenarios_policies_and_defaults(capsys):
    with pytest.raises(SystemExit) as done:
        main(["benchmark", "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    for name in [*bundled_scenarios(), "uncontrolled", "optimal", "mpc"]:
        assert name in out
    assert "(default: 5)" in out and "(default: all)" in out and "(default: default)" in out


def test_first_compile_prints_one_line(capsys, monkeypatch):
    from numba import njit

    import evgrid_gym.cli as cli

    def compiling(args):  # functions no cache holds: numba compiles them now
        njit(lambda x: x + 1)(1)
        njit(lambda x: x + 2)(1)
        return 0

    monkeypatch.setattr(cli, "simulate", compiling)
    assert main(["simulate"]) == 0
    assert capsys.readouterr().err == cli.COMPILE_NOTICE + "\n"
    monkeypatch.setattr(cli, "simulate", lambda args: 0)  # nothing to compile: no notice
    assert main(["simulate"]) == 0
    assert capsys.readouterr().err == ""


def test_fixed_date_outside_the_data_warns(capsys, recwarn):
    assert main(["simulate", "--scenario", "caltech_acn", "--date", "2022-01-01"]) == 0
    messages = [str(w.message) for w in recwarn]
    assert any("2022-01-01" in m and "no session of caltech" in m for m in messages), messages
    assert any("wind speeds (nrel_wind)" in m and "read from 2019-01-01" in m for m in messages)


@pytest.mark.parametrize(
    ("argv", "flag"),
    [(["train", "--framework", "rllib"], "--framework"), (["benchmark", "--backend", "ray"],
                                                          "--backend")],
)  # fmt: skip
def test_ray_flags_without_the_ray_extra_say_how_to_install_it(capsys, monkeypatch, argv, flag):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "ray" else find_spec(name, *args),
    )
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag in err and "pip install -e '.[ray]'" in err, err
