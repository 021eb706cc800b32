"""What V2G is worth to the optimum on ``default``: the optimum with V2G against the optimum
of the same days with every charger's V2G switched off (EVGrid-v2 economics: drivers pay and
are paid per kWh at their battery, so a round trip through an EV earns nothing by itself).

Both schedules are replayed through the env; the table gives, per day, the two rewards, their
difference (the value of V2G), the V2G energy the optimum discharged, its battery wear
(``degradation_cost_eur``, V2G and BESS) and its solve time.
``--degradation`` turns battery degradation on in both (``degradation: on``: V2G and the
station batteries pay their wear per kWh of throughput).

    python benchmarks/v2g_value.py [--episodes 20] [--seed 2000000] [--degradation]
"""

from __future__ import annotations

import argparse

import numpy as np

from baselines.optimal import build_model, solve
from evgrid_gym.config import load_scenario
from evgrid_gym.core import layout as L
from evgrid_gym.envs import EVGridEnv
from evgrid_gym.kpis import reward_unit


def scenario(name: str, degradation: bool, v2g: bool = True) -> dict:
    """Scenario ``name`` with battery degradation on or off, and V2G off on every charger
    unless ``v2g``."""
    data = load_scenario(name).model_dump(mode="json")
    data["degradation"] = degradation
    if not v2g:
        for station in data["stations"]:
            for charger in station["chargers"]:
                charger["v2g"] = False
    return data


def optimum(env: EVGridEnv, seed: int) -> tuple[float, float, float, float, str]:
    """``(replayed reward, V2G grid energy kWh, battery wear EUR, solve s, status)`` of one
    day's optimum (the reward in its unit, :func:`~evgrid_gym.kpis.reward_unit`)."""
    env.reset(seed=seed)
    schedule = solve(build_model(env.scenario, env.episode_plan()), 600)
    env.reset(seed=seed)
    reward = sum(env.step(action)[1] for action in schedule.actions)
    total = env.kpi_total
    v2g_kwh, wear_eur = total[L.KPI["ev_discharge_grid_kwh"]], total[L.KPI["degradation_cost_eur"]]
    return reward, v2g_kwh, wear_eur, schedule.solve_s, schedule.status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2_000_000)
    parser.add_argument("--degradation", action="store_true", help="battery degradation on")
    args = parser.parse_args()
    with_v2g = EVGridEnv(scenario(args.scenario, args.degradation))
    no_v2g = EVGridEnv(scenario(args.scenario, args.degradation, v2g=False))
    unit = reward_unit(with_v2g.scenario.config.reward.kpi_weights)  # EUR, kWh (satisfaction)
    print(
        f"| seed | date | optimum ({unit}) | without V2G ({unit}) | V2G value ({unit}) "
        "| V2G energy (kWh) | battery wear (EUR) | solve (s) | status |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---|")
    values = []
    for seed in range(args.seed, args.seed + args.episodes):
        reward, v2g_kwh, wear_eur, solve_s, status = optimum(with_v2g, seed)
        reward_off, _, _, _, status_off = optimum(no_v2g, seed)
        values.append(reward - reward_off)
        date = with_v2g.date
        print(
            f"| {seed} | {date} | {reward:.2f} | {reward_off:.2f} | {values[-1]:.3f} | "
            f"{v2g_kwh:.1f} | {wear_eur:.2f} | {solve_s:.2f} | {status}/{status_off} |"
        )
    values = np.array(values)
    print(
        f"\nV2G value: mean {values.mean():.3f} {unit} per day (standard error "
        f"{values.std(ddof=1) / np.sqrt(len(values)):.3f}), min {values.min():.3f}, "
        f"max {values.max():.3f}, > 0.01 {unit} on {(values > 0.01).sum()} of {len(values)} days"
    )


if __name__ == "__main__":
    main()
