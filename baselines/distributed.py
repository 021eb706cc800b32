"""The benchmark's Ray backend: every (policy, episode) pair is one Ray task.

A task runs the serial runner's job (:func:`~baselines.benchmark.run_job`: one episode on an
env whose kernels are loaded, its log written when asked for), with the env and the policy
built once per worker process, so the rows are the serial runner's row for row except for
their wall times. What costs is the optimum's solves; the heuristics' episodes take
milliseconds, so on one machine Ray pays off for the planners only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from evgrid_gym.config import ScenarioConfig
from evgrid_gym.policy import Policy

_WORKER_CACHE: dict[tuple[str, str], Any] = {}
"""Per worker process: the env of a scenario and each policy built for it, by their keys."""


def _job(
    config: ScenarioConfig, name: str, factory: Callable, episode: int, first_seed: int,
    log_dir: Path | None,
) -> dict[str, Any]:  # fmt: skip
    """Episode ``episode`` of policy ``name`` (a Ray task's body; the worker keeps env and
    policy)."""
    from baselines.benchmark import run_job
    from evgrid_gym.envs import EVGridEnv
    from evgrid_gym.policy import warm_up

    key = config.model_dump_json()
    env = _WORKER_CACHE.get((key, ""))
    if env is None:
        env = _WORKER_CACHE[(key, "")] = EVGridEnv(config)
        warm_up(env, first_seed)
    policy: Policy | None = _WORKER_CACHE.get((key, name))
    if policy is None:
        policy = _WORKER_CACHE[(key, name)] = factory(env.scenario)
    return run_job(env, policy, name, episode, first_seed + episode, log_dir)


def run_on_ray(
    config: ScenarioConfig,
    policies: dict[str, Callable],
    jobs: list[tuple[str, int]],
    first_seed: int,
    log_dir: Path | None = None,
    progress: bool = True,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Runs the ``(policy name, episode)`` jobs as Ray tasks (Ray must be up, see
    :func:`evgrid_gym.cluster.ray_session`) and yields ``(job index, row)`` as they finish,
    with a progress bar over the finished tasks. ``log_dir``: as
    :func:`~baselines.benchmark.run_benchmark`'s.

    Raises:
        The first exception a task raised (Ray's ``RayTaskError`` wraps it; its cause is
        re-raised).
    """
    import ray

    task = ray.remote(num_cpus=1, max_retries=0)(_job)
    config_ref = ray.put(config)
    pending = {
        task.remote(config_ref, name, policies[name], episode, first_seed, log_dir): i
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
