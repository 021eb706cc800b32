"""Runs policies on the same seeded episodes of a scenario and tabulates their KPIs.

Every policy is scored by the env itself: its actions go through ``env.step`` and its KPIs
come from the episode totals, so heuristics, the optimum and trained agents are compared by
the same code.
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from evgrid_gym.config import ScenarioConfig
from evgrid_gym.envs import EVGridEnv
from evgrid_gym.eventlog import EpisodeLog
from evgrid_gym.kpis import EPISODE_KPIS, RATIO, reward_unit
from evgrid_gym.policy import Policy, run_episode, warm_up

ID_COLUMNS = ("policy", "episode", "seed", "date")
"""The columns that name a result row's policy and episode."""
TABLE_COLUMNS = ("reward", *(kpi.name for kpi in EPISODE_KPIS), "wall_time_s")
"""What the summary table averages (then its ``solver`` and ``optimality_gap`` columns): the
reward, every episode KPI of :data:`evgrid_gym.kpis.EPISODE_KPIS`, the wall time."""
SOLVER_COLUMNS = ("solver_status", "mip_gap", "optimality_gap", "optimality_gap_at_bound")
RESULT_COLUMNS = (*ID_COLUMNS, "reward_unit", *TABLE_COLUMNS, *SOLVER_COLUMNS)
"""The columns of ``results.csv``, one row per policy and episode; ``reward_unit`` is the
unit of the scenario's reward (:func:`evgrid_gym.kpis.reward_unit`), which the plots label
the reward with."""
PLOTTED = ("reward", "cost_eur", "unmet_energy_kwh", "renewable_share")
"""What ``kpis.png`` draws: the reward and episode KPIs of :data:`~evgrid_gym.kpis.EPISODE_KPIS`."""
PROVEN = "optimal"
"""The solver status of a proven optimum (:class:`~evgrid_gym.policy.SolverStatus`)."""


BACKENDS = ("serial", "ray")


def run_benchmark(
    scenario: str | dict | ScenarioConfig,
    policies: dict[str, Callable[[object], Policy]],
    episodes: int,
    first_seed: int = 0,
    progress: bool = True,
    out: Path | None = None,
    log_dir: Path | None = None,
    backend: str = "serial",
    address: str | None = None,
    num_workers: int | None = None,
) -> pd.DataFrame:
    """Runs every policy on episodes seeded ``first_seed .. first_seed + episodes - 1``.

    Args:
        scenario: a bundled name, YAML path, dict or config.
        policies: name -> factory taking the env's :class:`~evgrid_gym.Scenario`; every
            policy is built before the first episode, so a bad one fails at once.
        episodes: number of episodes per policy (>= 1).
        progress: show a progress bar (tqdm).
        out: a folder (see :func:`output_folder`) into which ``results.csv`` is rewritten
            after every episode, so an interrupted run keeps the finished ones (the
            optimality gaps are filled in at the end).
        log_dir: a folder into which each episode's log (:mod:`evgrid_gym.eventlog`) is
            written, ``<policy>/seed_<seed>/`` (with the ``ray`` backend by the worker that
            ran the episode, on its machine's disk).
        backend: ``"serial"`` (one episode after the other in this process) or ``"ray"``
            (each (policy, episode) pair a Ray task, :mod:`baselines.distributed`; the rows
            are the same but for their wall times).
        address: the Ray cluster of the ``ray`` backend (``auto``, ``ray://host:port``);
            None starts a local Ray with ``num_workers`` CPUs (default: every core).
        num_workers: see ``address``.

    Wall times exclude loading the compiled kernels (one warm-up step before the runs).

    Returns:
        One row per policy and episode in policy order, columns :data:`RESULT_COLUMNS`.
        ``optimality_gap`` is ``(R - reward) / |R|`` per episode with R the reward of the
        ``optimal`` policy's schedule, when one ran; when its solver did not prove that
        schedule optimal (MIP gap g), the optimum lies between R and R + g |R|, and
        ``optimality_gap_at_bound`` is the gap to R + g |R|: the true gap lies between the
        two (equal when proven; NaN without an optimum or a schedule).

    Raises:
        ValueError: ``episodes`` < 1, or an unknown backend.
    """
    if episodes < 1:
        raise ValueError(f"episodes: got {episodes}; must be >= 1")
    if backend not in BACKENDS:
        raise ValueError(f"backend: got {backend!r}; must be one of {list(BACKENDS)}")
    env = EVGridEnv(scenario)
    warm_up(env, first_seed)
    built = {name: factory(env.scenario) for name, factory in policies.items()}
    jobs = [(name, e) for name in built for e in range(episodes)]
    if backend == "serial":
        rows = _collect(_run_serial(env, built, jobs, first_seed, log_dir, progress), out)
    else:
        from baselines.distributed import run_on_ray
        from evgrid_gym.cluster import ray_session

        with ray_session(address, num_workers or os.cpu_count() or 1):
            config = env.scenario.config
            rows = _collect(run_on_ray(config, policies, jobs, first_seed, log_dir, progress), out)
    results = _table(rows)
    results["optimality_gap"], results["optimality_gap_at_bound"] = _optimality_gaps(results)
    return results


def run_job(
    env: EVGridEnv, policy: Policy, name: str, episode: int, seed: int,
    log_dir: Path | None = None,
) -> dict:  # fmt: skip
    """One job of the benchmark, what both backends run: episode ``episode`` of ``policy``
    (called ``name``), seeded ``seed``; returns its row (the job, the reward's unit and
    :func:`~evgrid_gym.policy.run_episode`'s result) and writes its log into
    ``log_dir/<name>/seed_<seed>/`` when given."""
    log = None if log_dir is None else EpisodeLog(name, seed)
    weights = env.scenario.config.reward.kpi_weights
    row = {"policy": name, "episode": episode, "seed": seed, "reward_unit": reward_unit(weights)}
    row |= run_episode(env, policy, seed, log=log)
    if log is not None:
        log.write(log_dir / name / f"seed_{seed}")
    return row


def _run_serial(
    env: EVGridEnv, built: dict[str, Policy], jobs: list[tuple[str, int]], first_seed: int,
    log_dir: Path | None, progress: bool,
) -> Iterator[tuple[int, dict]]:  # fmt: skip
    """Runs the ``(policy name, episode)`` jobs one after the other; yields ``(job index,
    row)``."""
    bar = tqdm(jobs, disable=not progress, desc=env.scenario.config.name, unit="episode")
    for i, (name, episode) in enumerate(bar):
        bar.set_postfix_str(name)
        yield i, run_job(env, built[name], name, episode, first_seed + episode, log_dir)


def _collect(finished: Iterator[tuple[int, dict]], out: Path | None) -> list[dict]:
    """The rows of the finished jobs in job order; rewrites ``out/results.csv`` (when
    ``out`` is given) each time one finishes."""
    rows: dict[int, dict] = {}
    for i, row in finished:
        rows[i] = row
        if out is not None:
            _table([rows[j] for j in sorted(rows)]).to_csv(out / "results.csv", index=False)
    return [rows[j] for j in sorted(rows)]


def _table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).reindex(columns=list(RESULT_COLUMNS))


def _optimality_gaps(results: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per row, the gap to the ``optimal`` policy's reward R of the same episode and the gap
    to its solver's bound R + mip_gap |R| (see :func:`run_benchmark`)."""
    optimal = results[results["policy"] == "optimal"].set_index("episode")
    if optimal.empty:
        return pd.Series(np.nan, index=results.index), pd.Series(np.nan, index=results.index)
    status = results["episode"].map(optimal["solver_status"])
    found = status.isin([PROVEN, "time_limit_feasible"])  # a schedule was replayed
    best = results["episode"].map(optimal["reward"]).where(found)
    mip_gap = results["episode"].map(optimal["mip_gap"]).where(status != PROVEN, 0.0)
    bound = best + mip_gap * best.abs()

    def gap(to: pd.Series) -> pd.Series:
        return (to - results["reward"]) / to.abs().where(to.abs() > 0)

    return gap(best), gap(bound)


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """Mean of every KPI per policy, best reward first, then two text columns:

    - ``solver`` (when a policy reports its solver's status): ``optimal`` when every
      episode's solve was proven, else how many were (``3/5 optimal``), the other statuses
      and the largest MIP gap;
    - ``optimality_gap``: the mean gap to the optimum, ``12.9 %``; when the optimum is not
      proven on every episode the true mean lies in a range, shown as ``12.9-13.4 %``
      (``<= 0.8 %`` from 0): the means of the per-episode gaps to the schedule's reward and
      to the solver's bound (:func:`run_benchmark`); ``n/a`` when an episode has no
      optimum (no ``optimal`` policy, or its solver found no schedule).
    """
    grouped = results.groupby("policy", sort=False)
    table = grouped[list(TABLE_COLUMNS)].mean()
    solver = grouped.apply(_solver_summary, include_groups=False)
    if solver.any():
        table["solver"] = solver
    low = grouped["optimality_gap"].agg(lambda gaps: gaps.mean(skipna=False))
    high = grouped["optimality_gap_at_bound"].agg(lambda gaps: gaps.mean(skipna=False))
    table["optimality_gap"] = [_gap_text(low[p], high[p]) for p in table.index]
    return table.sort_values("reward", ascending=False)


def _solver_summary(episodes: pd.DataFrame) -> str:
    status = episodes["solver_status"].dropna()
    if status.empty:
        return ""
    proven = int((status == PROVEN).sum())
    if proven == len(status):
        return PROVEN
    text = f"{proven}/{len(status)} {PROVEN}; " + ", ".join(sorted(set(status) - {PROVEN}))
    mip_gaps = episodes.loc[status.index[status != PROVEN], "mip_gap"]
    return text + (f", MIP gap <= {100.0 * mip_gaps.max():.1f} %" if mip_gaps.any() else "")


def _gap_text(low: float, high: float) -> str:
    """``12.9 %`` when ``low == high`` (a proven optimum), else a range rounded outwards to
    0.1 %, so that it holds the true value: ``12.9-13.4 %``, ``<= 0.1 %`` from 0."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "n/a"
    if low == high:
        return f"{100.0 * low:.1f} %"
    low, high = sorted((low, high))
    low, high = math.floor(1000.0 * low) / 10.0, math.ceil(1000.0 * high) / 10.0
    return f"<= {high:.1f} %" if low == 0.0 else f"{low:.1f}-{high:.1f} %"


def markdown_table(table: pd.DataFrame, digits: int = 3) -> str:
    """A Markdown table of ``table`` (index as the first column)."""
    header = [table.index.name or ""] + [str(c) for c in table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" + "---:|" * len(table.columns)]
    for index, row in table.iterrows():
        cells = [f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join([str(index)] + cells) + " |")
    return "\n".join(lines)


def plot(results: pd.DataFrame, path: Path, title: str) -> None:
    """Bar charts (mean and standard deviation over episodes) of the main KPIs
    (:data:`PLOTTED`), as PNG; the reward in its unit
    (:func:`~evgrid_gym.viz.plots.reward_label`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from evgrid_gym.viz.plots import reward_label

    labels = {k.name: k.label if k.unit == RATIO else f"{k.label} ({k.unit})" for k in EPISODE_KPIS}
    labels["reward"] = reward_label(results)
    grouped = results.groupby("policy", sort=False)
    order = summary(results).index
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), constrained_layout=True)
    for ax, column in zip(axes.flat, PLOTTED, strict=True):
        mean = grouped[column].mean().reindex(order)
        std = grouped[column].std().reindex(order).fillna(0.0)
        ax.bar(range(len(order)), mean.to_numpy(), yerr=std.to_numpy(), color="tab:blue")
        ax.set_xticks(range(len(order)), order, rotation=45, ha="right")
        ax.set_title(labels[column])
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def output_folder(path: str | Path) -> Path:
    """``path`` as a folder the benchmark can write to, created if missing.

    Raises:
        OSError: it is a file, or cannot be created or written to (the message says why).
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)  # FileExistsError when it is a file
    with tempfile.TemporaryFile(dir=path):  # PermissionError when it is read-only
        pass
    return path


def write_outputs(results: pd.DataFrame, out: Path, title: str) -> str:
    """Writes ``results.csv``, ``summary.md`` and ``kpis.png`` into ``out``; returns the table."""
    out = output_folder(out)
    results.to_csv(out / "results.csv", index=False)
    table = markdown_table(summary(results))
    (out / "summary.md").write_text(f"# {title}\n\n{table}\n")
    plot(results, out / "kpis.png", title)
    return table


def policy_factories(names: Iterable[str], agent: str | None = None) -> dict:
    """Factories for the named baseline policies (``all``: every registered one), plus a
    trained agent under the name ``agent`` when ``agent`` is the path of one: a ``model.zip``
    of an SB3 run, or the ``checkpoint`` folder of an RLlib run."""
    from baselines import POLICIES

    names = list(names)
    if names == ["all"]:
        names = list(POLICIES)
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise ValueError(f"policies: got {unknown}; must be 'all' or among {sorted(POLICIES)}")
    factories = {name: POLICIES[name] for name in names}
    if agent is not None:
        factories["agent"] = functools.partial(_load_agent, path=agent)
    return factories


def _load_agent(scenario, path: str) -> Policy:
    """The trained agent at ``path`` (RLlib checkpoint folder or SB3 model file)."""
    from evgrid_gym.rl.rllib_agent import RLlibAgentPolicy, is_rllib_checkpoint

    if is_rllib_checkpoint(path):
        return RLlibAgentPolicy.load(scenario, path)
    from evgrid_gym.rl.agent import AgentPolicy

    return AgentPolicy.load(scenario, path)
