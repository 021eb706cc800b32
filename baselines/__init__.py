"""Baseline policies for EVGrid: they see only the env's public interface.

A policy is built from a read-only :class:`evgrid_gym.Scenario` and maps an observation (and
the last ``info``) to an action (:class:`~evgrid_gym.policy.Policy`); it never touches env
internals, so the same policy can run on the simulator or behind a station API.
"""

from typing import Any

from baselines.heuristics import HEURISTICS
from evgrid_gym.policy import Policy
from evgrid_gym.scenario import Scenario


def _planner(class_name: str):
    """A factory that imports :mod:`baselines.optimal` (Pyomo) only when a planner is built."""

    def build(scenario: Scenario, **options: Any) -> Policy:
        from baselines import optimal

        return getattr(optimal, class_name)(scenario, **options)

    return build


POLICIES = HEURISTICS | {"optimal": _planner("OptimalPolicy"), "mpc": _planner("MPCPolicy")}
"""Every baseline by name: the heuristics, the perfect-foresight optimum and its MPC."""


def make_policy(name: str, scenario: Scenario, **options: Any) -> Policy:
    """Builds the policy ``name`` for ``scenario``; ``options`` go to its constructor.

    Raises:
        ValueError: unknown policy name (the message lists the known ones), or a bad option
            value.
    """
    if name not in POLICIES:
        raise ValueError(f"policy: got {name!r}; must be one of {sorted(POLICIES)}")
    return POLICIES[name](scenario, **options)


__all__ = ["HEURISTICS", "POLICIES", "Policy", "make_policy"]
