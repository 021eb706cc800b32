"""Baseline policies for EVGrid: they see only the env's public interface.

A policy is built from a read-only :class:`evgrid_gym.Scenario` and maps an observation (and
the last ``info``) to an action; it never touches env internals, so the same policy can run
on the simulator or behind a station API.
"""

from baselines.heuristics import POLICIES, make_policy
from baselines.policy import Policy

__all__ = ["POLICIES", "Policy", "make_policy"]
