"""The station energy-management service (seeds 002 "Sems" and 003 "Electra SEMS").

A charge-point operator runs a policy of the package (a heuristic, or an agent trained in the
simulator) on real stations behind an HTTP API; a researcher replays simulated episodes
through it and gets the simulator's decisions back. Install with ``pip install
"evgrid-gym[service]"``; start with ``evgrid-gym serve``.

Modules, each with one job:

- ``engine``: the only link to the simulation core: a station's state in the core's layout,
  the policy's observation, the projection and the battery update with the env's kernels;
- ``stations``: a request as one read, one decision and one conditional write; errors;
- ``store``: one JSON document per station with a version, and the past-session log
  (SQLite or PostgreSQL);
- ``models``: stored documents and HTTP bodies (pydantic);
- ``topology``: the stations of a scenario, one at a time;
- ``profiles``: the allocation as OCPP 2.0.1 SetChargingProfile requests;
- ``auth``: API keys per station;
- ``clock``: wall and manual clocks, the periodic decision times;
- ``station_json``: seed 003's ``station_config.json`` as a scenario;
- ``load``: a load client (the benchmark and the crash test);
- ``app``: the FastAPI app.
"""

from evgrid_gym.service.app import create_app
from evgrid_gym.service.clock import ManualClock, WallClock
from evgrid_gym.service.stations import StationService, build_service

__all__ = ["ManualClock", "StationService", "WallClock", "build_service", "create_app"]
