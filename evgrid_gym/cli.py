"""``evgrid-gym``: the command line of the main jobs.

Every mistake in the input (a flag's value, a scenario or data file) ends the command with one
line on stderr, ``evgrid-gym: error: ...``, naming the flag or file and the value, and exit
code 2.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from evgrid_gym.config import ScenarioConfig, ScenarioError, bundled_scenarios, load_scenario
from evgrid_gym.core.jit import on_first_compile
from evgrid_gym.data.errors import DataFileError
from evgrid_gym.envs import EVGridEnv
from evgrid_gym.kpis import episode_kpis
from evgrid_gym.scenario import parse_date

COMPILE_NOTICE = "evgrid-gym: compiling the simulator (first run only, about 15 s)"
"""Printed to stderr when numba compiles instead of loading its cache (measured for
``simulate --scenario default --days 1`` on a 2-core machine; README, "Speed")."""

HEADLINE_KPIS = (
    ("energy_delivered_kwh", "energy delivered", "kWh"),
    ("unmet_energy_kwh", "unmet energy", "kWh"),
    ("cost_eur", "external energy cost", "EUR"),
    ("renewable_share", "renewable share", "-"),
    ("external_energy_kwh", "external energy", "kWh"),
    ("peak_import_kw", "peak import", "kW"),
    ("overload_kwh", "overload", "kWh"),
    ("satisfaction", "satisfaction", "-"),
    ("total_revenue_eur", "EV revenue", "EUR"),
)


class UsageError(ValueError):
    """A command-line mistake; the message names the flag and the value."""


def _bad_flag(flag: str, value, rule: str) -> UsageError:
    return UsageError(f"{flag}: got {value!r}; {rule}")


def _configure(args: argparse.Namespace) -> ScenarioConfig:
    """The scenario with the command line's overrides, validated again.

    ``--days`` sets the episode length; ``--sessions PATH`` replays an ACN-format file
    (``evs.source: acn``) at the connectors whose ids match its ``station_id`` (others take
    any free connector).
    """
    config = load_scenario(args.scenario)
    data = config.model_dump()
    if args.days is not None:
        data["episode_ticks"] = round(args.days * 24.0 / config.dt_h)
        if data["episode_ticks"] < 1:
            raise _bad_flag("--days", args.days, f"must be at least one tick ({config.dt_h} h)")
    if args.sessions is not None:
        data["evs"] |= {"source": "acn", "sessions_file": args.sessions}
    return load_scenario(data) if data != config.model_dump() else config


def _output_folder(path: str) -> Path:
    """``--out`` as a writable folder, created if missing, checked before any work."""
    from baselines.benchmark import output_folder

    try:
        return output_folder(path)
    except OSError as err:
        raise _bad_flag("--out", path, f"must be a folder that can be written ({err})") from None


def simulate(args: argparse.Namespace) -> int:
    from baselines import make_policy
    from baselines.benchmark import run_episode, warm_up

    config = _configure(args)
    env = EVGridEnv(config)
    policy = make_policy(args.policy, env.scenario)
    warm_up(env)
    options = {} if args.date is None else {"date": args.date}
    row = run_episode(env, policy, args.seed, options=options, bar=True)
    kpis = episode_kpis(env.kpi_total)
    print(
        f"scenario {config.name}, policy {args.policy}, seed {args.seed}, "
        f"{config.episode_ticks} ticks of {config.dt_h} h from {row['date']}"
    )
    print(f"{'KPI':<24}{'value':>14}  unit")
    print(f"{'reward':<24}{row['reward']:>14.3f}  EUR")
    for key, label, unit in HEADLINE_KPIS:
        print(f"{label:<24}{kpis[key]:>14.3f}  {unit}")
    if "solver_status" in row:
        print(f"{'solver':<24}{row['solver_status']:>14}  (MIP gap {row['mip_gap']:.2%})")
    return 0


def benchmark(args: argparse.Namespace) -> int:
    from baselines.benchmark import policy_factories, run_benchmark, write_outputs

    config = _configure(args)
    out = _output_folder(args.out)
    factories = policy_factories(args.policies, agent=args.agent)
    results = run_benchmark(config, factories, args.episodes, first_seed=args.seed, out=out)
    seeds = f"{args.seed}..{args.seed + args.episodes - 1}"
    title = f"{config.name}: {args.episodes} episodes, seeds {seeds}"
    table = write_outputs(results, out, title)
    print(f"{title} (means over episodes)\n\n{table}\n")
    print(f"wrote {out / 'results.csv'}, summary.md and kpis.png")
    return 0


def train(args: argparse.Namespace) -> int:
    from evgrid_gym.rl.train import train as run_training

    config = _configure(args)
    out = _output_folder(args.out)
    curve = run_training(config, args.algo, args.timesteps, args.num_envs, out, seed=args.seed)
    last = curve.iloc[-1]
    print(
        f"trained {args.algo} for {int(last['timesteps'])} steps on {config.name}; mean reward on "
        f"held-out seeds {last['eval_reward_mean']:.2f} +- {last['eval_reward_std']:.2f} EUR"
    )
    print(f"wrote {out / 'model.zip'}, vecnormalize.pkl, learning_curve.csv/.png, train_info.json")
    return 0


# --------------------------------------------------------------------------------------------
# Flags
# --------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An argument parser that raises :class:`UsageError`s (one line, no usage block) instead
    of exiting."""

    def error(self, message: str):
        raise UsageError(message)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows each flag's default (unless it has none) and keeps the epilog's lines."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.option_strings and action.default not in (None, argparse.SUPPRESS):
            text += " (default: %(default)s)"
        return text


def _integer(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"got {text!r}; must be an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"got {value}; must be >= {low}")
        return value

    return parse


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0.0):
        raise argparse.ArgumentTypeError(f"got {text!r}; must be a number of days > 0")
    return value


def _date(text: str) -> str:
    try:
        parse_date(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}; must be a date YYYY-MM-DD") from None
    return text


def _policy(text: str) -> str:
    from baselines import POLICIES

    if text not in POLICIES:
        raise argparse.ArgumentTypeError(f"got {text!r}; must be one of {', '.join(POLICIES)}")
    return text


def _policies(text: str) -> list[str]:
    from baselines import POLICIES

    names = [name.strip() for name in text.split(",")]
    if names == ["all"]:
        return list(POLICIES)
    unknown = [name for name in names if name not in POLICIES]
    if unknown:
        what = "an empty name (a stray comma?)" if "" in unknown else f"unknown {unknown}"
        raise argparse.ArgumentTypeError(
            f"got {text!r}, {what}; give 'all' or names among {', '.join(POLICIES)}, "
            "separated by commas"
        )
    return names


def _existing_file(text: str) -> str:
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"got {text!r}; no such file")
    return text


def _common(parser: argparse.ArgumentParser, seed_help: str) -> None:
    parser.add_argument("--scenario", default="default", help="bundled scenario name or YAML path")
    parser.add_argument("--seed", type=_integer(0), default=0, help=seed_help)


def build_parser() -> argparse.ArgumentParser:
    from baselines import POLICIES

    lists = f"bundled scenarios: {', '.join(bundled_scenarios())}\npolicies: {', '.join(POLICIES)}"
    sub_options = {"formatter_class": _HelpFormatter, "epilog": lists}
    parser = _Parser(prog="evgrid-gym", description=__doc__, **sub_options)
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="run one episode of a policy and print its KPIs",
                         **sub_options)  # fmt: skip
    _common(sim, "seed of the episode")
    sim.add_argument("--policy", type=_policy, default="uncontrolled", help="baseline policy")
    sim.add_argument("--days", type=_days, default=None,
                     help="episode length in days; the scenario's if not given")  # fmt: skip
    sim.add_argument("--date", type=_date, default=None,
                     help="the episode's day, YYYY-MM-DD; drawn if not given")  # fmt: skip
    sim.add_argument(
        "--sessions", type=_existing_file, help="replay an ACN sessions file (CSV or API JSON)"
    )
    sim.set_defaults(run=simulate)
    bench = sub.add_parser(
        "benchmark", help="run policies on the same seeded episodes; KPI table, CSV and plots",
        **sub_options,
    )  # fmt: skip
    _common(bench, "seed of the first episode")
    bench.add_argument("--episodes", type=_integer(1), default=5, help="episodes per policy")
    bench.add_argument("--policies", type=_policies, default="all",
                       help="comma-separated policy names, or 'all'")  # fmt: skip
    bench.add_argument("--agent", type=_existing_file,
                       help="a model.zip of `evgrid-gym train`, ranked as 'agent'")  # fmt: skip
    bench.add_argument("--out", default="runs/benchmark", help="output folder")
    bench.set_defaults(run=benchmark, days=None, sessions=None)
    tr = sub.add_parser("train", help="train an SB3 agent on the native vector env",
                        **sub_options)  # fmt: skip
    _common(tr, "training seed")
    tr.add_argument("--algo", default="ppo", choices=("ppo", "sac", "td3"))
    tr.add_argument("--timesteps", type=_integer(1), default=100_000)
    tr.add_argument("--num-envs", type=_integer(1), default=16)
    tr.add_argument("--out", default="runs/train", help="output folder")
    tr.set_defaults(run=train, days=None, sessions=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except UsageError as err:
        print(f"evgrid-gym: error: {err}", file=sys.stderr)
        return 2
    try:
        with on_first_compile(lambda: print(COMPILE_NOTICE, file=sys.stderr, flush=True)):
            return args.run(args)
    except (ScenarioError, DataFileError, ValueError, OSError) as err:
        print(f"evgrid-gym: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("evgrid-gym: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
