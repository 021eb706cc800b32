"""Read-only arrays handed out by the scenario and the envs."""

from __future__ import annotations

import numpy as np


def readonly(array: np.ndarray, contiguous: bool = False) -> np.ndarray:
    """A read-only view of ``array``.

    The view follows ``array``: its owner can still write through ``array`` (the envs hand out
    their live state this way), while whoever holds the view cannot.

    Args:
        array: any array.
        contiguous: view a C-contiguous copy where ``array`` is not C-contiguous (the layout
            the compiled kernels are typed for; the scenario's static arrays).

    Returns:
        The view, same shape and dtype; ``flags.writeable`` is False.
    """
    view = (np.ascontiguousarray(array) if contiguous else array).view()
    view.setflags(write=False)
    return view
