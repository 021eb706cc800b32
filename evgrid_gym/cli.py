"""``evgrid-gym``: the command line of the main jobs.

Every mistake in the input (a flag's value, a scenario or data file) ends the command with one
line on stderr, ``evgrid-gym: error: ...``, naming the flag or file and the value, and exit
code 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import socket
import sys
from pathlib import Path

from evgrid_gym.config import (
    ScenarioConfig,
    ScenarioError,
    bundled_scenarios,
    load_scenario,
    with_split,
)
from evgrid_gym.core.jit import on_first_compile
from evgrid_gym.data.errors import DataFileError
from evgrid_gym.envs import EVGridEnv
from evgrid_gym.eventlog import EpisodeLog
from evgrid_gym.extras import install_line
from evgrid_gym.kpis import EPISODE_KPIS, reward_unit
from evgrid_gym.policy import run_episode, warm_up
from evgrid_gym.scenario import parse_date

COMPILE_NOTICE = "evgrid-gym: compiling the simulator (first run only, about 15 s)"
"""Printed to stderr when numba compiles instead of loading its cache (measured for
``simulate --scenario default --days 1`` on a 2-core machine; README, "Speed")."""


class UsageError(ValueError):
    """A command-line mistake; the message names the flag and the value."""


def _bad_flag(flag: str, value, rule: str) -> UsageError:
    return UsageError(f"{flag}: got {value!r}; {rule}")


def _configure(args: argparse.Namespace, default_split: str | None = None) -> ScenarioConfig:
    """The scenario with the command line's overrides, validated again.

    ``--days`` sets the episode length; ``--sessions PATH`` replays an ACN-format file
    (``evs.source: acn``) at the connectors whose ids match its ``station_id`` (others take
    any free connector); ``--split NAME`` draws the episodes' days from that split of
    ``calendar.splits``, by default from ``default_split`` where the scenario has it (else
    from the scenario's own ``calendar.split``).
    """
    config = load_scenario(args.scenario)
    data = config.model_dump()
    if args.days is not None:
        data["episode_ticks"] = round(args.days * 24.0 / config.dt_h)
        if data["episode_ticks"] < 1:
            raise _bad_flag("--days", args.days, f"must be at least one tick ({config.dt_h} h)")
    if args.sessions is not None:
        data["evs"] |= {"source": "acn", "sessions_file": args.sessions}
    if data != config.model_dump():
        config = load_scenario(data)
    split = args.split
    if split is None and default_split in config.calendar.splits:
        split = default_split
    return config if split is None else with_split(config, split)


def _output_folder(path: str | None, flag: str = "--out") -> Path | None:
    """``flag``'s folder, writable, created if missing, checked before any work (None: not
    given)."""
    if path is None:
        return None
    from baselines.benchmark import output_folder

    try:
        return output_folder(path)
    except OSError as err:
        raise _bad_flag(flag, path, f"must be a folder that can be written ({err})") from None


def simulate(args: argparse.Namespace) -> int:
    from baselines import make_policy

    config = _configure(args)
    log_dir = _output_folder(args.log, "--log")
    env = EVGridEnv(config)
    policy = make_policy(args.policy, env.scenario)
    options = {} if args.date is None else {"date": args.date}
    warm_up(env, options=options)
    log = None if log_dir is None else EpisodeLog(args.policy, args.seed)
    row = run_episode(env, policy, args.seed, options=options, bar=True, log=log)
    print(
        f"scenario {config.name}, policy {args.policy}, seed {args.seed}, "
        f"{config.episode_ticks} ticks of {config.dt_h} h from {row['date']}"
    )
    print(f"{'KPI':<24}{'value':>14}  unit")
    print(f"{'reward':<24}{row['reward']:>14.3f}  {reward_unit(config.reward.kpi_weights)}")
    for kpi in EPISODE_KPIS:
        if kpi.cli:
            print(f"{kpi.label:<24}{row[kpi.name]:>14.3f}  {kpi.unit}")
    if "solver_status" in row:
        print(f"{'solver':<24}{row['solver_status']:>14}  (MIP gap {row['mip_gap']:.2%})")
    if log is not None:
        log.write(log_dir)
        print(f"wrote the episode's log to {log_dir} (evgrid-gym plot {log_dir} draws it)")
    return 0


def benchmark(args: argparse.Namespace) -> int:
    from baselines.benchmark import policy_factories, run_benchmark, write_outputs

    if args.backend != "ray":
        _only_with("--backend ray", ("--address", args.address),
                   ("--num-workers", args.num_workers))  # fmt: skip
    else:
        _require_ray("--backend", args.backend)
    if args.address is not None and args.num_workers is not None:
        raise UsageError("--num-workers: sets the CPUs of a local Ray; not with --address")
    config = _configure(args, default_split="test")
    out = _output_folder(args.out)
    log_dir = _output_folder(args.log, "--log")
    factories = policy_factories(args.policies, agent=args.agent)
    results = run_benchmark(
        config, factories, args.episodes, first_seed=args.seed, out=out, log_dir=log_dir,
        backend=args.backend, address=args.address, num_workers=args.num_workers,
    )  # fmt: skip
    seeds = f"{args.seed}..{args.seed + args.episodes - 1}"
    split = f", split {config.calendar.split}" if config.calendar.split else ""
    title = f"{config.name}: {args.episodes} episodes, seeds {seeds}{split}"
    table = write_outputs(results, out, title)
    print(f"{title} (means over episodes)\n\n{table}\n")
    print(f"wrote {out / 'results.csv'}, summary.md and kpis.png")
    if log_dir is not None:
        print(f"wrote each episode's log to {log_dir}/<policy>/seed_<seed>")
    return 0


def plot(args: argparse.Namespace) -> int:
    """Draws the figures of a run folder (:mod:`evgrid_gym.viz.plots`); prints their paths."""
    from evgrid_gym.viz.plots import plot_run

    for path in plot_run(args.run_dir):
        print(path)
    return 0


def _require_ray(flag: str, value: str) -> None:
    """Raises a :class:`UsageError` naming ``flag`` when Ray (the ray extra) is missing."""
    from evgrid_gym.cluster import INSTALL

    if importlib.util.find_spec("ray") is None:
        raise _bad_flag(flag, value, f"needs the ray extra: {INSTALL}")


def _only_with(condition: str, *flags: tuple[str, object]) -> None:
    """Raises a :class:`UsageError` for the first of ``flags`` ``(name, value)`` that was
    given (value not None): it needs ``condition``."""
    for flag, value in flags:
        if value is not None:
            raise _bad_flag(flag, value, f"only with {condition}")


def train(args: argparse.Namespace) -> int:
    if args.framework == "rllib":
        return _train_rllib(args)
    rllib_flags = (("--agents", args.agents), ("--num-env-runners", args.num_env_runners),
                   ("--address", args.address), ("--reward", args.reward))  # fmt: skip
    _only_with("--framework rllib", *rllib_flags)
    from evgrid_gym.rl.train import train as run_training

    config = _configure(args, default_split="train")
    out = _output_folder(args.out)
    num_envs = 16 if args.num_envs is None else args.num_envs
    curve = run_training(config, args.algo, args.timesteps, num_envs, out, seed=args.seed)
    _print_trained(args.algo, config, curve)
    print(f"wrote {out / 'model.zip'}, vecnormalize.pkl, learning_curve.csv/.png, train_info.json")
    return 0


def _train_rllib(args: argparse.Namespace) -> int:
    if args.algo != "ppo":
        raise _bad_flag("--algo", args.algo, "--framework rllib trains ppo only")
    _only_with("--framework sb3", ("--num-envs", args.num_envs))
    agents = args.agents or "station"
    if agents == "central":
        _only_with("--agents station", ("--reward", args.reward))
    _require_ray("--framework", args.framework)
    from evgrid_gym.rl.rllib import train as run_training

    config = _configure(args, default_split="train")
    out = _output_folder(args.out)
    runners = 1 if args.num_env_runners is None else args.num_env_runners
    curve = run_training(config, agents, args.timesteps, runners, out, seed=args.seed,
                         address=args.address, reward=args.reward or "station")  # fmt: skip
    _print_trained(f"RLlib ppo ({agents})", config, curve)
    print(f"wrote {out / 'checkpoint'}, learning_curve.csv/.png, train_info.json")
    return 0


def _print_trained(what: str, config: ScenarioConfig, curve) -> None:
    last, unit = curve.iloc[-1], reward_unit(config.reward.kpi_weights)
    print(
        f"trained {what} for {int(last['timesteps'])} steps on {config.name}; mean reward on "
        f"held-out seeds {last['eval_reward_mean']:.2f} +- {last['eval_reward_std']:.2f} {unit}"
    )


def _missing_extra(command: str, extra: str, err: ImportError) -> ValueError:
    """The error of a command whose optional dependencies (the extra ``extra``) are missing."""
    return ValueError(
        f"{command}: needs the {extra} extra ({err.name} is missing): {install_line(extra)}"
    )


def dashboard(args: argparse.Namespace) -> int:
    from baselines.benchmark import policy_factories

    try:
        import uvicorn

        from evgrid_gym.viz.dashboard.app import create_app
    except ImportError as err:
        raise _missing_extra("dashboard", "dashboard", err) from None
    _check_port(args.host, args.port)
    config = _configure(args)
    policies = policy_factories(["all"], agent=args.agent)
    app = create_app(config, policies, args.policy, speed=args.speed, seed=args.seed)
    print(f"dashboard of {config.name} on http://{args.host}:{args.port} (Ctrl+C stops it)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def serve(args: argparse.Namespace) -> int:
    """Runs the station energy-management service (``evgrid_gym.service``) until stopped."""
    try:
        import uvicorn
        from sqlalchemy.exc import SQLAlchemyError

        from evgrid_gym.service import build_service, create_app
        from evgrid_gym.service.auth import ApiKeys
        from evgrid_gym.service.station_json import load_service_scenario
    except ImportError as err:
        raise _missing_extra("serve", "service", err) from None
    if args.api_keys is None and args.host not in LOCAL_HOSTS:
        raise _bad_flag(
            "--host",
            args.host,
            "without --api-keys the service is open to anyone and binds "
            "to 127.0.0.1 only (give --api-keys FILE to serve other hosts)",
        )
    if args.agent is not None and args.policy not in (None, "agent"):
        raise UsageError(f"--policy {args.policy} and --agent: give one of them")
    _check_port(args.host, args.port)
    policy = "agent" if args.agent is not None else args.policy or "bess_boost"
    config = load_service_scenario(args.scenario)
    try:
        service = build_service(config, policy, args.db, agent=args.agent, tick_s=args.tick_s)
    except (OSError, SQLAlchemyError) as err:
        raise ValueError(f"{err.__class__.__name__}: {err}".splitlines()[0]) from None
    keys = None if args.api_keys is None else ApiKeys.load(args.api_keys, service.station_ids)
    access = (
        f"API keys from {args.api_keys}"
        if keys is not None
        else "OPEN: no API keys, anyone on this machine may change the stations"
    )
    print(
        f"evgrid-gym serve: {len(service.station_ids)} station(s) of {config.name}, policy "
        f"{policy}, decisions every {service.tick_s:g} s, database {args.db}\n"
        f"  {access}\n  listening on http://{args.host}:{args.port} (API docs at /docs)",
        flush=True,
    )
    uvicorn.run(create_app(service, keys, ticker=True), host=args.host, port=args.port,
                log_level="warning")  # fmt: skip
    return 0


def _check_port(host: str, port: int) -> None:
    """Raises a :class:`UsageError` naming ``--port`` when it cannot be bound on ``host``."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as err:
        raise _bad_flag(
            "--port", port, f"cannot listen on {host}:{port} ({err.strerror})"
        ) from None


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


def _agent_path(text: str) -> str:
    from evgrid_gym.rl.rllib_agent import CHECKPOINT_FILE, is_rllib_checkpoint

    if Path(text).is_file() or is_rllib_checkpoint(text):
        return text
    raise argparse.ArgumentTypeError(
        f"got {text!r}; must be a model.zip of an SB3 run or the checkpoint folder of an "
        f"RLlib run (with {CHECKPOINT_FILE})"
    )


def _port(text: str) -> int:
    port = _integer(1)(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"got {port}; must be a port in 1..65535")
    return port


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0.0):
        raise argparse.ArgumentTypeError(f"got {text!r}; must be a number > 0")
    return value


def _common(parser: argparse.ArgumentParser, seed_help: str) -> None:
    parser.add_argument("--scenario", default="default", help="bundled scenario name or YAML path")
    parser.add_argument("--seed", type=_integer(0), default=0, help=seed_help)


def _log(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument("--log", metavar="DIR", help=text)


def _split(parser: argparse.ArgumentParser, default: str, more: str = "") -> None:
    parser.add_argument(
        "--split",
        help=f"draw the days from this split of calendar.splits ({default}){more}",
    )


def _add_simulate(sub, options: dict) -> None:
    """Adds the ``simulate`` command's parser to ``sub``, made with ``options``."""
    sim = sub.add_parser("simulate", help="run one episode of a policy and print its KPIs",
                         **options)  # fmt: skip
    _common(sim, "seed of the episode")
    sim.add_argument("--policy", type=_policy, default="uncontrolled", help="baseline policy")
    sim.add_argument("--days", type=_days, default=None,
                     help="episode length in days; the scenario's if not given")  # fmt: skip
    sim.add_argument("--date", type=_date, default=None,
                     help="the episode's day, YYYY-MM-DD; drawn if not given")  # fmt: skip
    _split(sim, "default: the scenario's calendar.split")
    sim.add_argument(
        "--sessions", type=_existing_file, help="replay an ACN sessions file (CSV or API JSON)"
    )
    _log(sim, "write the episode's log (sessions, events, ticks, ...) into this folder")
    sim.set_defaults(run=simulate)


def _add_benchmark(sub, options: dict) -> None:
    """Adds the ``benchmark`` command's parser to ``sub``, made with ``options``."""
    bench = sub.add_parser(
        "benchmark", help="run policies on the same seeded episodes; KPI table, CSV and plots",
        **options,
    )  # fmt: skip
    _common(bench, "seed of the first episode")
    bench.add_argument("--episodes", type=_integer(1), default=5, help="episodes per policy")
    bench.add_argument("--policies", type=_policies, default="all",
                       help="comma-separated policy names, or 'all'")  # fmt: skip
    bench.add_argument("--agent", type=_agent_path,
                       help="an agent of `evgrid-gym train`, ranked as 'agent': its model.zip "
                       "(SB3) or its checkpoint folder (RLlib)")  # fmt: skip
    bench.add_argument("--out", default="runs/benchmark", help="output folder")
    _log(bench, "write each episode's log into this folder, <policy>/seed_<seed>/")
    _split(bench, "default: 'test' where the scenario has it")
    bench.add_argument("--backend", default="serial", choices=("serial", "ray"),
                       help="run the episodes one by one, or each as a Ray task")  # fmt: skip
    bench.add_argument("--address", help="with --backend ray: the Ray cluster (auto, "
                       "ray://host:port); default: start a local Ray")  # fmt: skip
    bench.add_argument("--num-workers", type=_integer(1),
                       help="with --backend ray and no --address: the local Ray's CPUs "
                       "(default: every core)")  # fmt: skip
    bench.set_defaults(run=benchmark, days=None, sessions=None)


def _add_train(sub, options: dict) -> None:
    """Adds the ``train`` command's parser to ``sub``, made with ``options``."""
    tr = sub.add_parser("train", help="train an agent: SB3 on the native vector env, or RLlib "
                        "(stations as agents, or central) on Ray", **options)  # fmt: skip
    _common(tr, "training seed")
    tr.add_argument("--framework", default="sb3", choices=("sb3", "rllib"),
                    help="Stable-Baselines3, or RLlib (the ray extra)")  # fmt: skip
    tr.add_argument("--algo", default="ppo", choices=("ppo", "sac", "td3"),
                    help="rllib: ppo only")  # fmt: skip
    tr.add_argument("--timesteps", type=_integer(1), default=100_000)
    tr.add_argument("--num-envs", type=_integer(1), help="sb3: envs of the vector env (default 16)")
    tr.add_argument("--agents", choices=("station", "central"),
                    help="rllib: one shared policy over the stations as agents, or the "
                    "single-agent env (default station)")  # fmt: skip
    tr.add_argument("--reward", choices=("station", "team"),
                    help="rllib, --agents station: each station's own profit, or the "
                    "community's reward for every station (default station)")  # fmt: skip
    tr.add_argument("--num-env-runners", type=_integer(0),
                    help="rllib: Ray actors that sample (default 1; 0: the driver "
                    "samples)")  # fmt: skip
    tr.add_argument("--address", help="rllib: the Ray cluster (auto, ray://host:port); "
                    "default: start a local Ray")  # fmt: skip
    tr.add_argument("--out", default="runs/train", help="output folder")
    _split(tr, "default: 'train' where the scenario has it", "; evaluation on 'validation'")
    tr.set_defaults(run=train, days=None, sessions=None)


def _add_plot(sub, options: dict) -> None:
    """Adds the ``plot`` command's parser to ``sub``, made with ``options``."""
    pl = sub.add_parser(
        "plot", help="draw the figures of a `simulate --log` or `benchmark` folder (PNG)",
        **options,
    )  # fmt: skip
    pl.add_argument("run_dir", metavar="RUN_DIR", help="a folder of episode logs or a benchmark")
    pl.set_defaults(run=plot)


def _add_dashboard(sub, options: dict) -> None:
    """Adds the ``dashboard`` command's parser to ``sub``, made with ``options``."""
    dash = sub.add_parser("dashboard", help="serve a live web dashboard that plays episodes",
                          **options)  # fmt: skip
    _common(dash, "seed of the first episode")
    dash.add_argument("--policy", type=_policy, default="edf",
                      help="the policy selected when the page opens")  # fmt: skip
    dash.add_argument("--agent", type=_existing_file,
                      help="a model.zip of `evgrid-gym train`, offered as 'agent'")  # fmt: skip
    dash.add_argument("--speed", type=_positive, default=10.0, help="ticks per second at the start")
    dash.add_argument("--days", type=_days, default=None, help="episode length in days")
    dash.add_argument("--host", default="127.0.0.1")
    dash.add_argument("--port", type=_port, default=8050)
    dash.set_defaults(run=dashboard, sessions=None, split=None)


def _add_serve(sub, options: dict) -> None:
    """Adds the ``serve`` command's parser to ``sub``, made with ``options``."""
    sv = sub.add_parser("serve", help="run a policy behind the stations' HTTP API (the service "
                        "extra)", **options)  # fmt: skip
    sv.add_argument("--scenario", default="electra_station",
                    help="bundled name, YAML path, or a seed 003 station_config .json")  # fmt: skip
    sv.add_argument("--policy", type=_policy, help="a heuristic's name (default bess_boost)")
    sv.add_argument("--agent", type=_existing_file, help="serve the trained model.zip instead")
    sv.add_argument("--db", default="sqlite:///ems.db", help="SQLAlchemy database URL")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=_port, default=8000)
    sv.add_argument(
        "--tick-s", type=_positive,
        help="seconds between periodic decisions (default: the scenario's tick)",
    )  # fmt: skip
    sv.add_argument("--api-keys", type=_existing_file,
                    help='JSON file: key -> list of station ids it may change, or "*"')  # fmt: skip
    sv.set_defaults(run=serve)


def build_parser() -> argparse.ArgumentParser:
    from baselines import POLICIES

    lists = f"bundled scenarios: {', '.join(bundled_scenarios())}\npolicies: {', '.join(POLICIES)}"
    sub_options = {"formatter_class": _HelpFormatter, "epilog": lists}
    parser = _Parser(prog="evgrid-gym", description=__doc__, **sub_options)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_simulate, _add_benchmark, _add_train, _add_plot, _add_dashboard, _add_serve):
        add(sub, sub_options)
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
