"""Ray, the engine behind everything that runs on more than one process or machine (the extra
``[ray]``): RLlib training (:mod:`evgrid_gym.rl.rllib`) and the benchmark's Ray backend
(``baselines/distributed.py``)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from evgrid_gym.extras import install_line

INSTALL = install_line("ray")
"""The install line of the ray extra (README, "Stations as agents and Ray")."""


@contextlib.contextmanager
def ray_session(address: str | None, num_cpus: int) -> Iterator[None]:
    """Ray for the ``with`` block: connects to the cluster at ``address`` (``auto``: the one
    started on this machine with ``ray start``; ``ray://host:port``: a remote one through the
    Ray Client), or starts a local Ray with ``num_cpus`` logical CPUs (no dashboard) when it
    is None, and shuts it down at the end. When Ray is already up in this process it uses
    that one and leaves it up.

    Raises:
        ImportError: Ray is not installed (the message gives the install line).
        ConnectionError: no cluster answers at ``address``.
    """
    try:
        import ray
    except ImportError:
        raise ImportError(f"Ray is not installed: {INSTALL}") from None
    if ray.is_initialized():
        yield
        return
    options = {"include_dashboard": False, "logging_level": logging.ERROR}
    if address is None:
        ray.init(num_cpus=num_cpus, **options)
    else:
        ray.init(address=address, **options)
    try:
        yield
    finally:
        ray.shutdown()
