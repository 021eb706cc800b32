"""``evgrid-gym``: the command line of the main jobs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evgrid_gym.config import ScenarioConfig, ScenarioError, load_scenario, with_split
from evgrid_gym.data.errors import DataFileError
from evgrid_gym.envs import EVGridEnv
from evgrid_gym.kpis import episode_kpis

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
    if args.sessions is not None:
        data["evs"] |= {"source": "acn", "sessions_file": args.sessions}
    if data != config.model_dump():
        config = load_scenario(data)
    split = args.split
    if split is None and default_split in config.calendar.splits:
        split = default_split
    return config if split is None else with_split(config, split)


def simulate(args: argparse.Namespace) -> int:
    from baselines import make_policy

    config = _configure(args)
    env = EVGridEnv(config)
    policy = make_policy(args.policy, env.scenario)
    policy.reset(seed=args.seed)
    options = {} if args.date is None else {"date": args.date}
    observation, info = env.reset(seed=args.seed, options=options)
    total_reward, terminated = 0.0, False
    while not terminated:
        observation, reward, terminated, _, info = env.step(policy.act(observation, info))
        total_reward += reward
    kpis = episode_kpis(env.kpi_total)
    print(
        f"scenario {config.name}, policy {args.policy}, seed {args.seed}, "
        f"{config.episode_ticks} ticks of {config.dt_h} h from {info['date']}"
    )
    print(f"{'KPI':<24}{'value':>14}  unit")
    print(f"{'reward':<24}{total_reward:>14.3f}  EUR")
    for key, label, unit in HEADLINE_KPIS:
        print(f"{label:<24}{kpis[key]:>14.3f}  {unit}")
    return 0


def benchmark(args: argparse.Namespace) -> int:
    from baselines.benchmark import policy_factories, run_benchmark, write_outputs

    config = _configure(args, default_split="test")
    factories = policy_factories(args.policies.split(","), agent=args.agent)
    results = run_benchmark(config, factories, args.episodes, first_seed=args.seed)
    seeds = f"{args.seed}..{args.seed + args.episodes - 1}"
    split = f", split {config.calendar.split}" if config.calendar.split else ""
    title = f"{config.name}: {args.episodes} episodes, seeds {seeds}{split}"
    table = write_outputs(results, Path(args.out), title)
    print(f"{title} (means over episodes)\n\n{table}\n")
    print(f"wrote {Path(args.out) / 'results.csv'}, summary.md and kpis.png")
    return 0


def train(args: argparse.Namespace) -> int:
    from evgrid_gym.rl.train import train as run_training

    config = _configure(args, default_split="train")
    out = Path(args.out)
    curve = run_training(config, args.algo, args.timesteps, args.num_envs, out, seed=args.seed)
    last = curve.iloc[-1]
    print(
        f"trained {args.algo} for {int(last['timesteps'])} steps on {config.name}; mean reward on "
        f"held-out seeds {last['eval_reward_mean']:.2f} +- {last['eval_reward_std']:.2f} EUR"
    )
    print(f"wrote {out / 'model.zip'}, vecnormalize.pkl, learning_curve.csv/.png, train_info.json")
    return 0


def dashboard(args: argparse.Namespace) -> int:
    from baselines.benchmark import policy_factories

    try:
        import uvicorn

        from evgrid_gym.viz.dashboard.app import create_app
    except ImportError as err:
        raise ValueError(
            f"dashboard: needs the dashboard extra ({err.name} is missing): "
            'pip install "evgrid-gym[dashboard]"'
        ) from None
    if not 0 < args.port < 65536:
        raise ValueError(f"port: got {args.port}; must be in 1..65535")
    if args.agent is not None and not Path(args.agent).is_file():
        raise ValueError(f"agent: no model file {args.agent}")
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
        raise ValueError(
            f"serve needs the service extra ({err.name} is missing): "
            "pip install 'evgrid-gym[service]'"
        ) from None
    if args.api_keys is None and args.host not in LOCAL_HOSTS:
        raise ValueError(
            f"--host: got {args.host!r}; without --api-keys the service is open to anyone "
            "and binds to 127.0.0.1 only (give --api-keys FILE to serve other hosts)"
        )
    if args.agent is not None and args.policy not in (None, "agent"):
        raise ValueError(f"--policy {args.policy} and --agent: give one of them")
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


_SPLIT_HELP = "draw the days from this split of calendar.splits (default: {}, where it has one)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evgrid-gym", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="run one episode of a policy and print its KPIs")
    sim.add_argument("--scenario", default="default", help="bundled name or YAML path")
    sim.add_argument("--policy", default="uncontrolled", help="baseline policy name")
    sim.add_argument("--days", type=float, default=None, help="episode length in days")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--date", default=None, help="the episode's day, YYYY-MM-DD")
    sim.add_argument(
        "--split", default=None,
        help="draw the day from this split of calendar.splits (default: calendar.split)",
    )  # fmt: skip
    sim.add_argument(
        "--sessions", default=None, help="replay an ACN sessions file (CSV or API JSON)"
    )
    sim.set_defaults(run=simulate)
    bench = sub.add_parser(
        "benchmark", help="run policies on the same seeded episodes; KPI table, CSV and plots"
    )
    bench.add_argument("--scenario", default="default", help="bundled name or YAML path")
    bench.add_argument("--episodes", type=int, default=5)
    bench.add_argument("--policies", default="all", help="comma-separated names, or 'all'")
    bench.add_argument("--agent", default=None, help="a trained model.zip to rank as 'agent'")
    bench.add_argument("--out", default="runs/benchmark", help="output folder")
    bench.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    bench.add_argument("--split", default=None, help=_SPLIT_HELP.format("'test'"))
    bench.set_defaults(run=benchmark, days=None, sessions=None)
    tr = sub.add_parser("train", help="train an SB3 agent on the native vector env")
    tr.add_argument("--scenario", default="default", help="bundled name or YAML path")
    tr.add_argument("--algo", default="ppo", choices=("ppo", "sac", "td3"))
    tr.add_argument("--timesteps", type=int, default=100_000)
    tr.add_argument("--num-envs", type=int, default=16)
    tr.add_argument("--out", default="runs/train", help="output folder")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument(
        "--split", default=None,
        help=_SPLIT_HELP.format("'train'") + "; evaluation on 'validation' where it has one",
    )  # fmt: skip
    tr.set_defaults(run=train, days=None, sessions=None)
    dash = sub.add_parser("dashboard", help="serve a live web dashboard that plays episodes")
    dash.add_argument("--scenario", default="default", help="bundled name or YAML path")
    dash.add_argument("--policy", default="edf", help="the policy selected when the page opens")
    dash.add_argument("--agent", default=None, help="a trained model.zip, offered as 'agent'")
    dash.add_argument("--speed", type=float, default=10.0, help="ticks per second at the start")
    dash.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    dash.add_argument("--days", type=float, default=None, help="episode length in days")
    dash.add_argument("--host", default="127.0.0.1")
    dash.add_argument("--port", type=int, default=8050)
    dash.set_defaults(run=dashboard, sessions=None, split=None)
    sv = sub.add_parser(
        "serve", help="run a policy behind the stations' HTTP API (the service extra)"
    )
    sv.add_argument(
        "--scenario", default="electra_station",
        help="bundled name, YAML path, or a seed 003 station_config .json",
    )  # fmt: skip
    sv.add_argument("--policy", default=None, help="a heuristic's name (default bess_boost)")
    sv.add_argument("--agent", default=None, help="serve the trained model.zip instead")
    sv.add_argument("--db", default="sqlite:///ems.db", help="SQLAlchemy database URL")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument(
        "--tick-s", type=float, default=None,
        help="seconds between periodic decisions (default: the scenario's tick)",
    )  # fmt: skip
    sv.add_argument(
        "--api-keys", default=None,
        help="JSON file: key -> list of station ids it may change, or \"*\"",
    )  # fmt: skip
    sv.set_defaults(run=serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ScenarioError, DataFileError, ValueError) as err:
        print(f"evgrid-gym: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
