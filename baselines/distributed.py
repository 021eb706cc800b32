"""The benchmark's Ray backend: every (policy, episode) pair is one Ray task.

A task runs one episode exactly as the serial runner does (:func:`~baselines.benchmark.run_episode`
on an env whose kernels are loaded, with the policy built once per worker process), so the
rows are the serial runner's row for row except for their wall times. What costs is the
optimum's solves; the heuristics' episodes take milliseconds, so on one machine Ray pays off
for the planners only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from tqdm.auto import tqdm

from baselines.policy import Policy
from evgrid_gym.config import ScenarioConfig

_WORKER_CACHE: dict[tuple[str, str], Any] = {}
"""Per worker process: the env of a scenario and each policy built for it, by their keys."""


def _episode(
    config: ScenarioConfig, name: str, factory: Callable, seed: int, first_seed: int
) -> dict[str, Any]:
    """One episode of policy ``name`` (a Ray task's body; the worker keeps env and policy)."""
    from baselines.benchmark import run_episode, warm_up
    from evgrid_gym.envs import EVGridEnv

    key = config.model_dump_json()
    env = _WORKER_CACHE.get((key, ""))
    if env is None:
        env = _WORKER_CACHE[(key, "")] = EVGridEnv(config)
        warm_up(env, first_seed)
    policy: Policy | None = _WORKER_CACHE.get((key, name))
    if policy is None:
        policy = _WORKER_CACHE[(key, name)] = factory(env.scenario)
    return run_episode(env, policy, seed)


def run_on_ray(
    config: ScenarioConfig,
    policies: dict[str, Callable],
    jobs: list[tuple[str, int]],
    first_seed: int,
    progress: bool = True,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Runs the ``(policy name, episode)`` jobs as Ray tasks (Ray must be up, see
    :func:`evgrid_gym.cluster.connect`) and yields ``(job index, row)`` as they finish, with
    a progress bar over the finished tasks.

    Raises:
        The first exception a task raised (Ray's ``RayTaskError`` wraps it; its cause is
        re-raised).
    """
    import ray

    task = ray.remote(num_cpus=1, max_retries=0)(_episode)
    config_ref = ray.put(config)
    pending = {
        task.remote(config_ref, name, policies[name], first_seed + episode, first_seed): i
        for i, (name, episode) in enumerate(jobs)
    }
    with tqdm(total=len(jobs), disable=not progress, desc=f"{config.name} (ray)",
              unit="episode") as bar:  # fmt: skip
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            try:
                row = ray.get(done[0])
            except ray.exceptions.RayTaskError as err:
                for ref in pending:
                    ray.cancel(ref)
                raise err.as_instanceof_cause() from None
            bar.update()
            yield pending.pop(done[0]), row
