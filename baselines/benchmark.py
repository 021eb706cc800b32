"""Runs policies on the same seeded episodes of a scenario and tabulates their KPIs.

Every policy is scored by the env itself: its actions go through ``env.step`` and its KPIs
come from the episode totals, so heuristics, the optimum and trained agents are compared by
the same code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from baselines.policy import Policy
from evgrid_gym.config import ScenarioConfig
from evgrid_gym.envs import EVGridEnv
from evgrid_gym.kpis import episode_kpis

RESULT_COLUMNS = (
    "policy",
    "episode",
    "seed",
    "date",
    "reward",
    "cost_eur",
    "energy_delivered_kwh",
    "unmet_energy_kwh",
    "satisfaction",
    "renewable_share",
    "external_energy_kwh",
    "peak_import_kw",
    "overload_kwh",
    "household_kwh",
    "acceptance_rate",
    "reservations_rejected",
    "no_shows",
    "missed_deadlines",
    "outage_unmet_kwh",
    "wall_time_s",
    "optimality_gap",
)
TABLE_COLUMNS = RESULT_COLUMNS[4:]
PLOTTED = (
    ("reward", "reward (EUR)"),
    ("cost_eur", "external energy cost (EUR)"),
    ("unmet_energy_kwh", "unmet energy (kWh)"),
    ("renewable_share", "renewable share"),
)


def run_episode(env: EVGridEnv, policy: Policy, seed: int) -> dict[str, float | str]:
    """One episode of ``policy``; returns its reward, episode KPIs, date and wall time."""
    start = time.perf_counter()
    observation, info = env.reset(seed=seed)
    policy.reset(seed=seed, plan=env.episode_plan() if policy.perfect_foresight else None)
    total, terminated = 0.0, False
    while not terminated:
        observation, reward, terminated, _, info = env.step(policy.act(observation, info))
        total += reward
    row = {"reward": total, "date": info["date"], "wall_time_s": time.perf_counter() - start}
    return row | episode_kpis(env.kpi_total)


def run_benchmark(
    scenario: str | dict | ScenarioConfig,
    policies: dict[str, Callable[[object], Policy]],
    episodes: int,
    first_seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Runs every policy on episodes seeded ``first_seed .. first_seed + episodes - 1``.

    Args:
        scenario: a bundled name, YAML path, dict or config.
        policies: name -> factory taking the env's :class:`~evgrid_gym.Scenario`.
        episodes: number of episodes per policy.
        progress: show a progress bar (tqdm).

    Wall times exclude loading the compiled kernels (one warm-up step before the runs).

    Returns:
        One row per policy and episode, columns :data:`RESULT_COLUMNS`;
        ``optimality_gap`` is ``(optimal reward - reward) / |optimal reward|`` per episode
        when an ``optimal`` policy ran, else NaN.
    """
    env = EVGridEnv(scenario)
    env.reset(seed=first_seed)  # load the compiled kernels before anything is timed
    env.step(np.zeros(env.action_space.shape, dtype=np.float32))
    rows = []
    jobs = [(name, e) for name in policies for e in range(episodes)]
    bar = tqdm(jobs, disable=not progress, desc=env.scenario.config.name, unit="episode")
    built = {}
    for name, episode in bar:
        bar.set_postfix_str(name)
        policy = built.setdefault(name, policies[name](env.scenario))
        seed = first_seed + episode
        rows.append(
            {"policy": name, "episode": episode, "seed": seed} | run_episode(env, policy, seed)
        )
    results = pd.DataFrame(rows)
    results["optimality_gap"] = _optimality_gap(results)
    return results.loc[:, list(RESULT_COLUMNS)]


def _optimality_gap(results: pd.DataFrame) -> pd.Series:
    optimal = results[results["policy"] == "optimal"].set_index("episode")["reward"]
    if optimal.empty:
        return pd.Series(np.nan, index=results.index)
    best = results["episode"].map(optimal)
    return (best - results["reward"]) / best.abs().where(best.abs() > 0)


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """Mean of every KPI per policy, best reward first."""
    means = results.groupby("policy", sort=False)[list(TABLE_COLUMNS)].mean()
    return means.sort_values("reward", ascending=False)


def markdown_table(table: pd.DataFrame, digits: int = 3) -> str:
    """A Markdown table of ``table`` (index as the first column)."""
    header = [table.index.name or ""] + [str(c) for c in table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" + "---:|" * len(table.columns)]
    for index, row in table.iterrows():
        cells = [f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join([str(index)] + cells) + " |")
    return "\n".join(lines)


def plot(results: pd.DataFrame, path: Path, title: str) -> None:
    """Bar charts (mean and standard deviation over episodes) of the main KPIs, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grouped = results.groupby("policy", sort=False)
    order = summary(results).index
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), constrained_layout=True)
    for ax, (column, label) in zip(axes.flat, PLOTTED, strict=True):
        mean = grouped[column].mean().reindex(order)
        std = grouped[column].std().reindex(order).fillna(0.0)
        ax.bar(range(len(order)), mean.to_numpy(), yerr=std.to_numpy(), color="tab:blue")
        ax.set_xticks(range(len(order)), order, rotation=45, ha="right")
        ax.set_title(label)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_outputs(results: pd.DataFrame, out: Path, title: str) -> str:
    """Writes ``results.csv``, ``summary.md`` and ``kpis.png`` into ``out``; returns the table."""
    out.mkdir(parents=True, exist_ok=True)
    results.to_csv(out / "results.csv", index=False)
    table = markdown_table(summary(results))
    (out / "summary.md").write_text(f"# {title}\n\n{table}\n")
    plot(results, out / "kpis.png", title)
    return table


def policy_factories(names: Iterable[str], agent: str | None = None) -> dict:
    """Factories for the named baseline policies (``all``: every registered one), plus a
    trained agent under the name ``agent`` when ``agent`` is a model path."""
    from baselines import POLICIES

    names = list(names)
    if names == ["all"]:
        names = list(POLICIES)
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise ValueError(f"policies: got {unknown}; must be 'all' or among {sorted(POLICIES)}")
    factories = {name: POLICIES[name] for name in names}
    if agent is not None:
        from baselines.agent import AgentPolicy

        factories["agent"] = lambda scenario: AgentPolicy.load(scenario, agent)
    return factories
