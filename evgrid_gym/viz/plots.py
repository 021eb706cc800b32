"""The figures of ``evgrid-gym plot``: PNGs of an episode's log and of a benchmark.

From an episode's log (:mod:`evgrid_gym.eventlog`, ``simulate --log``):

1. ``soc_by_archetype.png``: every EV's soc over its stay, one panel per archetype (seed 004's
   first plot);
2. ``power_by_archetype.png``: the fleet's charging power by archetype, stacked (V2G below 0;
   seed 004's second plot);
3. ``energy_flows.png``: the first day's energy balance: what supplies the community (wind,
   external, BESS and V2G) above 0, what it goes to (households, EV charging, BESS charging,
   export, curtailment) below (a flow that is 0 all day is left out), the feeder's load
   against its limit and the external price;
4. ``flexibility.png``: the fleet's power in each tick within the range it could have drawn,
   and the energy envelope from the hour it was widest, with the energy the fleet took.

From a benchmark's ``results.csv``: 5. ``benchmark.png``: the reward of each policy on every
episode and its optimality gap, in the reward's unit (its ``reward_unit`` column,
:func:`reward_label`).

Headless: matplotlib figures drawn without pyplot, so no backend or window is touched;
colours are the render's (:mod:`evgrid_gym.viz.style`).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from evgrid_gym.eventlog import LOG_TABLES
from evgrid_gym.viz.style import CHARGING, SERIES_COLOURS, V2G

DPI = 110
EPISODE_FIGURES = ("soc_by_archetype", "power_by_archetype", "energy_flows", "flexibility")
EPISODE_FILES = ("episode.json", *(f"{name}.csv" for name in LOG_TABLES if name != "events"))
"""What an episode's figures read (written by :class:`~evgrid_gym.eventlog.EpisodeLog`): its
tables but the events."""
FLOWS = (  # (ticks.csv column, label, colour), supply above 0, then uses below
    ("renewable_kwh", "wind (and PV)", SERIES_COLOURS["wind_kw"]),
    ("external_energy_kwh", "external supplier", SERIES_COLOURS["external_kw"]),
    ("bess_discharge_grid_kwh", "BESS discharge", SERIES_COLOURS["bess_kw"]),
    ("ev_discharge_grid_kwh", "V2G", V2G),
    ("household_kwh", "households", SERIES_COLOURS["household_kw"]),
    ("ev_charge_grid_kwh", "EV charging", CHARGING),
    ("bess_charge_grid_kwh", "BESS charging", (103, 232, 249)),
    ("export_kwh", "export", (250, 204, 21)),
    ("curtailed_kwh", "curtailment", SERIES_COLOURS["surplus_kw"]),
)
N_SUPPLY = 4
PRICE = (146, 64, 14)  # the price line, apart from the flows' colours


class LogError(ValueError):
    """A folder holds no log to plot, or a log lacks a file, a column or a number; the
    message names it."""


RESULTS_NUMBERS = ("episode", "seed", "reward", "optimality_gap")
"""The columns of a benchmark's ``results.csv`` that figure 5 reads as numbers (and it reads
``policy``)."""


def _read_table(
    path: Path, numbers: tuple[str, ...] = (), others: tuple[str, ...] = (),
    keep_default_na: bool = True,
) -> pd.DataFrame:  # fmt: skip
    """A CSV table of a log or a benchmark with the columns ``numbers``, holding numbers
    (empty cells allowed: NaN), and ``others``.

    Raises:
        LogError: the file is not a CSV table, lacks one of those columns, or holds something
            else than a number in one of ``numbers`` (naming the file, the row and the column).
    """
    try:
        table = pd.read_csv(path, keep_default_na=keep_default_na)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise LogError(f"{path}: not a CSV table ({err})") from None
    for column in (*numbers, *others):
        if column not in table:
            raise LogError(f"{path}: no column {column!r}; found {list(table.columns)}")
    for column in numbers:
        values = pd.to_numeric(table[column], errors="coerce")
        bad = np.flatnonzero(values.isna() & table[column].notna())
        if bad.size:
            row = int(bad[0]) + 2  # 1-based, after the header line
            raise LogError(
                f"{path}, row {row}, column {column!r}: got {table[column].iloc[bad[0]]!r}; "
                "must be a number"
            )
        table[column] = values
    return table


def _colour(rgb) -> tuple[float, float, float]:
    return tuple(v / 255.0 for v in rgb)


class EpisodeLogFiles:
    """An episode's log read back from its folder.

    Raises:
        LogError: a file of :data:`EPISODE_FILES` is missing or not a CSV table, or
            ``ticks.csv`` has no numeric ``tick`` (naming it).
    """

    def __init__(self, folder: Path):
        self.folder = folder
        for name in EPISODE_FILES:
            if not (folder / name).is_file():
                raise LogError(
                    f"{folder}: expected {name} of an episode log (`evgrid-gym simulate --log`)"
                )
        self.meta = json.loads((folder / "episode.json").read_text())
        self.sessions = _read_table(folder / "sessions.csv", keep_default_na=False)
        self.ticks = _read_table(folder / "ticks.csv", ("tick",))
        self.ev_ticks = _read_table(folder / "ev_ticks.csv", keep_default_na=False)
        self.flexibility = _read_table(folder / "flexibility.csv")

    def title(self, what: str) -> str:
        m = self.meta
        return f"{what}\n{m['scenario']}, policy {m['policy']}, seed {m['seed']}, from {m['date']}"

    def time(self, ticks) -> pd.DatetimeIndex:
        """Local clock times (naive) of tick starts, for the x axes."""
        start = pd.Timestamp(self.meta["date"])
        return start + pd.to_timedelta(np.asarray(ticks, float) * self.meta["dt_h"], unit="h")

    def groups(self) -> list[str]:
        """The archetypes of the episode's EVs, in order of appearance ("" for anonymous)."""
        return list(dict.fromkeys(self.sessions["archetype"].astype(str)))


def _group_name(archetype: str) -> str:
    return archetype or "all EVs"


def _time_axis(ax, log: EpisodeLogFiles, ticks: int | None = None) -> None:
    """Local clock times on the x axis, labelled every few hours of the ``ticks`` shown
    (default: the episode)."""
    days = (ticks or log.meta["episode_ticks"]) * log.meta["dt_h"] / 24.0
    hours = 3 if days <= 1 else 6 if days <= 3 else 12 if days <= 7 else 24
    ax.xaxis.set_major_locator(mdates.HourLocator(byhour=range(0, 24, hours)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%a %H:%M"))
    ax.set_xlabel("local time")
    ax.grid(alpha=0.3)


def soc_by_archetype(log: EpisodeLogFiles, path: Path) -> None:
    """Figure 1: each EV's soc over its stay, one panel per archetype."""
    groups = log.groups()
    fig = Figure(figsize=(12, 2.6 * len(groups) + 1.2), layout="constrained")
    axes = fig.subplots(len(groups), 1, sharex=True, squeeze=False)
    colours = colormaps["tab20"]
    plugged = log.sessions[log.sessions["outcome"] == "plugged"]
    by_ev = log.ev_ticks.groupby("ev")
    for ax, group in zip(axes[:, 0], groups, strict=True):
        sessions = plugged[plugged["archetype"].astype(str) == group]
        for s in sessions.itertuples():
            stay = by_ev.get_group(s.ev)
            ticks = np.append(stay["tick"].to_numpy(), s.unplug_tick)
            soc = np.append(stay["soc"].to_numpy(), s.soc_departure) * 100.0
            colour = colours((s.user if s.user >= 0 else s.ev) % 20)
            ax.plot(log.time(ticks), soc, color=colour, lw=1.2, alpha=0.85)
            ax.plot(log.time(ticks[-1:]), soc[-1:], "o", color=colour, ms=3)
        users = sessions["user"].nunique() if group else len(sessions)
        ax.set_title(f"{_group_name(group)}: {len(sessions)} sessions of {users} "
                     f"{'users' if group else 'EVs'}", fontsize=10, loc="left")  # fmt: skip
        ax.set_ylabel("soc (%)")
        ax.set_ylim(0, 102)
        _time_axis(ax, log)
    fig.suptitle(log.title("State of charge of every EV while plugged in (dot: unplug)"))
    fig.savefig(path, dpi=DPI)


def power_by_archetype(log: EpisodeLogFiles, path: Path) -> None:
    """Figure 2: the charging power of the population by archetype, stacked."""
    groups = log.groups()
    n_ticks = log.meta["episode_ticks"]
    ev_ticks = log.ev_ticks.assign(group=log.ev_ticks["archetype"].astype(str))
    table = ev_ticks.pivot_table("power_kw", "tick", "group", aggfunc="sum")
    table = table.reindex(index=range(n_ticks), columns=groups, fill_value=0.0).fillna(0.0)
    fig = Figure(figsize=(12, 5.5), layout="constrained")
    ax = fig.subplots()
    x = log.time(np.arange(n_ticks + 1))
    colours = colormaps["tab10"]
    charge = np.maximum(table.to_numpy(), 0.0)
    give = np.minimum(table.to_numpy(), 0.0)
    values = [np.append(column, column[-1]) for column in charge.T]
    labels = [_group_name(g) for g in groups]
    ax.stackplot(x, values, labels=labels, step="post", alpha=0.85,
                 colors=[colours(i) for i in range(len(groups))])  # fmt: skip
    if give.any():
        ax.stackplot(x, [np.append(c, c[-1]) for c in give.T], step="post", alpha=0.5,
                     colors=[colours(i) for i in range(len(groups))])  # fmt: skip
        ax.axhline(0.0, color="black", lw=0.8)
    total = np.append(table.sum(axis=1).to_numpy(), 0.0)
    ax.step(x, total, where="post", color="black", lw=1.0, label="net fleet power")
    ax.set_ylabel("charging power (kW; V2G below 0)")
    _time_axis(ax, log)
    ax.legend(loc="upper left", fontsize=9, ncol=min(len(groups) + 1, 5))
    ax.set_title(log.title("Charging power of the population by archetype"))
    fig.savefig(path, dpi=DPI)


def energy_flows(log: EpisodeLogFiles, path: Path) -> None:
    """Figure 3: the first day's supply and uses, the feeder's load and the price."""
    dt_h = log.meta["dt_h"]
    day = log.ticks[log.ticks["tick"] < round(24.0 / dt_h)]
    x = log.time(np.append(day["tick"].to_numpy(), day["tick"].iloc[-1] + 1))
    fig = Figure(figsize=(12, 6), layout="constrained")
    ax = fig.subplots()

    def stack(rows, sign):
        rows = [row for row in rows if day[row[0]].any()]  # none that day: not drawn
        values = [np.append(day[c].to_numpy(), day[c].iloc[-1]) * sign / dt_h for c, _, _ in rows]
        ax.stackplot(x, values, step="post", labels=[label for _, label, _ in rows],
                     colors=[_colour(rgb) for _, _, rgb in rows], alpha=0.85)  # fmt: skip

    stack(FLOWS[:N_SUPPLY], 1.0)
    stack(FLOWS[N_SUPPLY:], -1.0)
    net_columns = [c for c in day.columns if c.startswith("station_net_kw[")]
    feeder_kw = day["household_kwh"] / dt_h + day[net_columns].sum(axis=1)
    ax.step(x, -np.append(feeder_kw, feeder_kw.iloc[-1]), where="post", color="black", lw=1.2,
            label="feeder load (households + stations)")  # fmt: skip
    ax.axhline(-log.meta["feeder_limit_kw"], color="red", ls="--", lw=1.2, label="feeder limit")
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_ylabel("power (kW): supply above 0, uses below 0")
    _time_axis(ax, log, len(day))
    price = ax.twinx()
    prices = np.append(day["price_eur_per_kwh"], day["price_eur_per_kwh"].iloc[-1])
    price.step(x, prices, where="post", color=_colour(PRICE), lw=1.8, label="external price")
    price.set_ylabel("external price (EUR/kWh)", color=_colour(PRICE))
    price.set_ylim(min(0.0, float(prices.min())), 1.25 * float(prices.max()))
    handles, labels = ax.get_legend_handles_labels()
    more, more_labels = price.get_legend_handles_labels()
    fig.legend(handles + more, labels + more_labels, loc="outside lower center", fontsize=9,
               ncol=6)  # fmt: skip
    ax.set_title(log.title("Energy flows of the first day"))
    fig.savefig(path, dpi=DPI)


def flexibility(log: EpisodeLogFiles, path: Path) -> None:
    """Figure 4: the fleet's power range per tick, and its widest energy envelope."""
    ticks = log.ticks
    fig = Figure(figsize=(12, 8.5), layout="constrained")
    top, bottom = fig.subplots(2, 1)
    x = log.time(np.append(ticks["tick"], ticks["tick"].iloc[-1] + 1))

    def steps(column):
        return np.append(ticks[column], ticks[column].iloc[-1])

    top.fill_between(x, steps("flexibility_low_kw"), steps("flexibility_high_kw"), step="post",
                     color=_colour(CHARGING), alpha=0.25,
                     label="range: least it must, most it can draw")  # fmt: skip
    top.step(x, steps("fleet_kw"), where="post", color="black", lw=1.2, label="drawn")
    top.axhline(0.0, color="black", lw=0.6)
    top.set_ylabel("fleet power (kW)")
    top.set_title("Power of the plugged-in EVs in each tick, within what they could draw",
                  fontsize=10, loc="left")  # fmt: skip
    top.legend(loc="upper left", fontsize=9)
    _time_axis(top, log)
    envelope = log.flexibility
    if envelope.empty:
        bottom.text(0.5, 0.5, "no EV was plugged in at a whole hour", ha="center",
                    transform=bottom.transAxes)  # fmt: skip
    else:
        width = (envelope["most_kwh"] - envelope["least_kwh"]).groupby(envelope["anchor_tick"])
        anchor = int(width.max().idxmax())
        rows = envelope[envelope["anchor_tick"] == anchor]
        end = log.time(np.concatenate([[anchor], anchor + rows["ticks_ahead"].to_numpy()]))
        zero = np.zeros(1)
        least = np.concatenate([zero, rows["least_kwh"]])
        most = np.concatenate([zero, rows["most_kwh"]])
        bottom.fill_between(end, least, most, color=_colour(CHARGING), alpha=0.25,
                            label="envelope: least it must, most it can take")  # fmt: skip
        bottom.plot(end, most, color=_colour(CHARGING), lw=1.0)
        bottom.plot(end, least, color=_colour(CHARGING), lw=1.0, ls="--")
        bottom.plot(end, np.concatenate([zero, rows["drawn_kwh"]]), color="black", lw=1.4,
                    label="taken")  # fmt: skip
        plugged = int(log.ticks.loc[log.ticks["tick"] == anchor, "plugged_evs"].iloc[0])
        bottom.set_title(f"Energy the {plugged} EVs plugged in at "
                         f"{log.time([anchor])[0]:%a %H:%M} must and can take from then on "
                         "(the widest envelope of the hours)", fontsize=10, loc="left")  # fmt: skip
        bottom.legend(loc="upper left", fontsize=9)
    bottom.set_ylabel("grid energy since then (kWh)")
    _time_axis(bottom, log, 1 if envelope.empty else int(envelope["ticks_ahead"].max()))
    fig.suptitle(log.title("Flexibility of the plugged-in fleet"))
    fig.savefig(path, dpi=DPI)


def episode_figures(folder: Path) -> list[Path]:
    """Figures 1-4 of the episode log in ``folder``, written there; their paths.

    Raises:
        LogError: a file of the log is missing.
    """
    log = EpisodeLogFiles(folder)
    paths = []
    for name, draw in zip(EPISODE_FIGURES, _DRAW, strict=True):
        paths.append(folder / f"{name}.png")
        draw(log, paths[-1])
    return paths


_DRAW = (soc_by_archetype, power_by_archetype, energy_flows, flexibility)


def reward_label(results: pd.DataFrame, label: str = "reward") -> str:
    """``label (unit)``, with the reward's unit a benchmark's results record (their
    ``reward_unit`` column, :func:`evgrid_gym.kpis.reward_unit`); ``label`` alone when they
    record none or several: results written before the column existed do not say which
    reward preset they ran, and every preset (EUR or kWh) predates the column."""
    units = results["reward_unit"].dropna().unique() if "reward_unit" in results else ()
    return f"{label} ({units[0]})" if len(units) == 1 else label


def benchmark_figure(results_csv: Path, path: Path) -> Path:
    """Figure 5: each policy's reward on every episode (a dot per episode, coloured by
    episode, so the same day reads across policies; a bar at the mean) and its optimality gap
    (per episode, the mean as a bar), from a benchmark's ``results.csv``; the reward in its
    unit (:func:`reward_label`).

    Raises:
        LogError: ``results_csv`` lacks a column it reads or a number (:func:`_read_table`).
    """
    results = _read_table(results_csv, RESULTS_NUMBERS, ("policy",))
    order = list(results.groupby("policy")["reward"].mean().sort_values(ascending=False).index)
    row = results["policy"].map({p: i for i, p in enumerate(order)}).to_numpy()
    episodes = sorted(results["episode"].unique())
    colours = colormaps["tab10" if len(episodes) <= 10 else "tab20"]
    colour = [colours(episodes.index(e) % colours.N) for e in results["episode"]]
    fig = Figure(figsize=(13, 1.2 + 0.45 * len(order) + 2.5), layout="constrained")
    left, right = fig.subplots(1, 2)
    means = results.groupby("policy")["reward"].mean().reindex(order)
    left.scatter(results["reward"], row, c=colour, s=18, zorder=3)
    left.scatter(means, range(len(order)), marker="|", s=400, color="black", zorder=4,
                 label="mean")  # fmt: skip
    left.set_xlabel(reward_label(results, "episode reward"))
    left.set_title("Reward per policy (dots: episodes, one colour per episode)", fontsize=10,
                   loc="left")  # fmt: skip
    left.legend(loc="lower right", fontsize=9)
    gaps = results["optimality_gap"] * 100.0
    if gaps.notna().any():
        mean_gaps = gaps.groupby(results["policy"]).mean().reindex(order)
        right.barh(range(len(order)), mean_gaps.to_numpy(), color=_colour(CHARGING), alpha=0.4)
        right.scatter(gaps, row, c=colour, s=18, zorder=3)
        right.set_xlabel("optimality gap (% of the optimum's reward)")
        right.set_title("Optimality gap (bar: mean, dots: episodes)", fontsize=10, loc="left")
    else:
        right.text(0.5, 0.5, "no optimal policy in this benchmark:\nno optimality gap",
                   ha="center", va="center", transform=right.transAxes)  # fmt: skip
    for ax in (left, right):
        ax.set_yticks(range(len(order)), order)
        ax.set_ylim(len(order) - 0.5, -0.5)
        ax.grid(axis="x", alpha=0.3)
    summary = results_csv.with_name("summary.md")  # its first line: "# <scenario: episodes...>"
    title = summary.read_text().splitlines()[0].lstrip("# ") if summary.is_file() else ""
    seeds = f"seeds {results['seed'].min()}..{results['seed'].max()}"
    fig.suptitle(title or f"{len(episodes)} episodes, {seeds}")
    fig.savefig(path, dpi=DPI)
    return path


def plot_run(folder: str | Path) -> list[Path]:
    """Every figure a run folder allows: figures 1-4 for each episode log in it or below it
    (folders with an ``episode.json``), figure 5 for a ``results.csv`` in it.

    Raises:
        LogError: the folder holds neither, or a log lacks a file (naming what was expected).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise LogError(f"{folder}: no such folder")
    episodes = sorted(p.parent for p in folder.rglob("episode.json"))
    results = folder / "results.csv"
    if not episodes and not results.is_file():
        raise LogError(
            f"{folder}: no log to plot; expected {folder / 'episode.json'} and the tables of "
            f"an episode log (`evgrid-gym simulate --log {folder}`) or {results} (`evgrid-gym "
            "benchmark`)"
        )
    paths = [p for episode in episodes for p in episode_figures(episode)]
    if results.is_file():
        paths.append(benchmark_figure(results, folder / "benchmark.png"))
    return paths
