"""The distribution network under the community: description, validation, packed arrays.

:mod:`~evgrid_gym.grid.description` reads and checks a network file (radial, one transformer,
physical units), :mod:`~evgrid_gym.grid.config` places the community on it (``grid.network``
of a scenario), :mod:`~evgrid_gym.grid.arrays` packs both for the LinDistFlow kernels of
:mod:`evgrid_gym.core.network`.
"""

from evgrid_gym.grid.arrays import NetworkArrays, network_arrays
from evgrid_gym.grid.config import NetworkConfig
from evgrid_gym.grid.description import BUNDLED_NETWORKS, NetworkDescription

__all__ = [
    "BUNDLED_NETWORKS",
    "NetworkArrays",
    "NetworkConfig",
    "NetworkDescription",
    "network_arrays",
]
