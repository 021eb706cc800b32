"""Run every baseline on the same days of a scenario and print one KPI table.

    python examples/compare_baselines.py --scenario electra_station --episodes 5

The same as `evgrid-gym benchmark`, written out.
"""

import argparse
from pathlib import Path

from baselines.benchmark import policy_factories, run_benchmark, write_outputs

parser = argparse.ArgumentParser()
parser.add_argument("--scenario", default="default")
parser.add_argument("--episodes", type=int, default=5)
parser.add_argument("--out", default="runs/compare")
args = parser.parse_args()

results = run_benchmark(args.scenario, policy_factories(["all"]), args.episodes)
print(write_outputs(results, Path(args.out), f"{args.scenario}: {args.episodes} episodes"))
