"""API keys of the station service.

``serve --api-keys FILE`` reads a JSON object mapping each key to the list of station ids it
may change, or to ``"*"`` for all of them::

    {"k3y-for-paris": ["paris_15"], "operator-master-key": "*"}

Only the keys' SHA-256 hashes are kept in memory. A mutating request names its key in the
``X-API-Key`` header: none or an unknown one is answered 401, a key for other stations 403.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

HEADER = "X-API-Key"


class Unauthorized(Exception):
    status_code = 401


class Forbidden(Exception):
    status_code = 403


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ApiKeys:
    """Which key may change which stations.

    Args:
        grants: each key -> the station ids it may change, or ``"*"``.
        station_ids: the service's stations (a grant naming another is an error).

    Raises:
        ValueError: an empty key, a grant that is neither ``"*"`` nor a list of known
            station ids.
    """

    def __init__(self, grants: dict, station_ids: list[str]):
        self._grants: list[tuple[bytes, frozenset[str] | None]] = []
        for key, stations in grants.items():
            if not isinstance(key, str) or not key.strip():
                raise ValueError(f"api keys: got key {key!r}; keys must be non-empty strings")
            if stations == "*":
                allowed = None
            elif isinstance(stations, list) and all(isinstance(s, str) for s in stations):
                unknown = sorted(set(stations) - set(station_ids))
                if unknown:
                    raise ValueError(
                        f"api keys: a key grants unknown stations {unknown}; known: {station_ids}"
                    )
                allowed = frozenset(stations)
            else:
                raise ValueError(
                    f'api keys: a key grants {stations!r}; must be "*" or a list of station ids'
                )
            self._grants.append((_digest(key), allowed))

    @classmethod
    def load(cls, path: str | Path, station_ids: list[str]) -> ApiKeys:
        """The keys in the JSON file ``path``.

        Raises:
            ValueError: unreadable or malformed file (the message names it).
        """
        try:
            grants = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"api keys: cannot read {path}: {err}") from None
        if not isinstance(grants, dict) or not grants:
            raise ValueError(f"api keys: {path} must hold a non-empty JSON object key -> grant")
        return cls(grants, station_ids)

    def check(self, key: str | None, station_id: str) -> None:
        """Passes if ``key`` may change ``station_id``.

        Raises:
            Unauthorized: no key, or an unknown one.
            Forbidden: the key is for other stations.
        """
        if not key:
            raise Unauthorized(f"missing {HEADER} header")
        digest = _digest(key)
        for known, allowed in self._grants:
            if hmac.compare_digest(known, digest):
                if allowed is not None and station_id not in allowed:
                    raise Forbidden(f"this key may not change station {station_id!r}")
                return
        raise Unauthorized(f"unknown {HEADER}")
