"""Ray, the engine behind everything that runs on more than one process or machine (the extra
``[ray]``): RLlib training (:mod:`evgrid_gym.rl.rllib`) and the benchmark's Ray backend
(:mod:`baselines.distributed`)."""

from __future__ import annotations

import logging


def connect(address: str | None, num_cpus: int) -> bool:
    """Connects to the Ray cluster at ``address`` (``auto``: the one started on this machine
    with ``ray start``; ``ray://host:port``: a remote one through the Ray Client), or starts a
    local Ray with ``num_cpus`` logical CPUs (no dashboard) when it is None; does nothing when
    Ray is already up in this process.

    Returns:
        True when it started or connected Ray (the caller shuts it down), False when Ray was
        already up.

    Raises:
        ImportError: Ray is not installed (the message gives the install line).
        ConnectionError: no cluster answers at ``address``.
    """
    try:
        import ray
    except ImportError:
        raise ImportError(
            "Ray is not installed: pip install -e '.[ray]' -c constraints.txt"
        ) from None
    if ray.is_initialized():
        return False
    options = {"include_dashboard": False, "logging_level": logging.ERROR}
    if address is None:
        ray.init(num_cpus=num_cpus, **options)
    else:
        ray.init(address=address, **options)
    return True
