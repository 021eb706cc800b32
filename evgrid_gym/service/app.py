"""The station service's HTTP API (FastAPI; OpenAPI docs at ``/docs``).

Endpoints (seed 002's names): ``GET /health``, ``GET /stations``, ``GET /stations/{id}``
(topology), ``GET /stations/{id}/status``, ``POST /stations/{id}/sessions`` (plug-in),
``DELETE /stations/{id}/sessions/{session_id}`` (plug-out), ``GET /stations/{id}/sessions``
(the past-session log, JSON or CSV) and ``GET /stations/{id}/charging-profiles`` (OCPP 2.0.1).

Errors: an unknown station, charger, connector or session is 404 naming it; a connector in use
409; a bad value, an unknown field or a malformed body 422 naming the field (FastAPI's
``{"detail": [{"loc": [...], "msg": ..., "input": ...}]}``); with API keys, a mutating request
without a valid key 401, with a key for other stations 403. None of them changes anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime
import io
import logging
import math
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime, BaseModel

from evgrid_gym.service.auth import HEADER, ApiKeys, Forbidden, Unauthorized
from evgrid_gym.service.clock import decision_times
from evgrid_gym.service.models import (
    ClosedSession,
    Session,
    SessionChange,
    SessionCreate,
    SessionPage,
    StationStatus,
    StationTopology,
)
from evgrid_gym.service.profiles import charging_profiles
from evgrid_gym.service.stations import InvalidField, ServiceError, StationService

log = logging.getLogger("evgrid_gym.service")


def create_app(
    service: StationService, api_keys: ApiKeys | None = None, ticker: bool = False
) -> FastAPI:
    """The FastAPI app of ``service``. Endpoints are coroutines that hand the service's
    blocking work (database, decision) to the thread pool in one step.

    Args:
        service: the stations.
        api_keys: who may change which station; None: anyone (bind to 127.0.0.1 only).
        ticker: run the periodic decisions in the background (on the service's clock, so
            only with a wall clock); tests and replays leave it off (each request catches up
            the periodic decisions it missed).
    """

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        task = asyncio.create_task(_tick_forever(service)) if ticker else None
        yield
        if task is not None:
            task.cancel()

    app = FastAPI(
        title="evgrid_gym station energy-management service",
        description=__doc__,
        lifespan=lifespan,
    )
    _add_error_handlers(app)
    app.include_router(_station_routes(service))
    app.include_router(_session_routes(service, api_keys))
    return app


def _station_routes(service: StationService) -> APIRouter:
    """The read-only endpoints of the stations."""
    router = APIRouter()

    @router.get("/health")
    async def health() -> dict:
        return {"status": "ok", "stations": len(service.station_ids)}

    @router.get("/stations")
    async def list_stations() -> dict:
        return {"station_ids": service.station_ids}

    @router.get("/stations/{station_id}")
    async def topology(station_id: str) -> StationTopology:
        return service.topology(station_id)

    @router.get("/stations/{station_id}/status", response_model=StationStatus)
    async def station_status(station_id: str) -> Response:
        return _json(await run_in_threadpool(service.status, station_id))

    @router.get("/stations/{station_id}/charging-profiles")
    async def profiles(station_id: str) -> list[dict]:
        """The allocation as OCPP 2.0.1 SetChargingProfile requests, one per EVSE with a
        session plus the charger's maximum at EVSE 0."""
        now = await run_in_threadpool(service.status, station_id)
        return charging_profiles(service.topology(station_id), now)

    return router


def _session_routes(service: StationService, api_keys: ApiKeys | None) -> APIRouter:
    """Plug-in, plug-out (with an API key when the service has keys) and the session log."""
    router = APIRouter()

    async def authorized(
        station_id: str, key: Annotated[str | None, Header(alias=HEADER)] = None
    ) -> None:
        if api_keys is not None:
            api_keys.check(key, station_id)

    @router.post(
        "/stations/{station_id}/sessions",
        status_code=status.HTTP_201_CREATED,
        dependencies=[Depends(authorized)],
        response_model=SessionChange,
    )
    async def plug_in(station_id: str, request: SessionCreate) -> Response:
        change = await run_in_threadpool(service.plug_in, station_id, request)
        return _json(change, status.HTTP_201_CREATED)

    @router.delete(
        "/stations/{station_id}/sessions/{session_id}",
        dependencies=[Depends(authorized)],
        response_model=SessionChange,
    )
    async def plug_out(station_id: str, session_id: str) -> Response:
        return _json(await run_in_threadpool(service.plug_out, station_id, session_id))

    @router.get(
        "/stations/{station_id}/sessions",
        response_model=SessionPage,
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def sessions(
        request: Request,
        station_id: str,
        state: Literal["closed", "active"] = "closed",
        since: AwareDatetime | None = None,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ):
        """The past-session log (``state=closed``, oldest first, closed at or after ``since``,
        ``limit`` per page) or the active sessions; CSV with ``Accept: text/csv`` (the next
        page's cursor then in the ``X-Next-Cursor`` header)."""
        if state == "closed":
            page = await run_in_threadpool(
                service.closed_sessions, station_id, since, cursor, limit
            )
            rows, next_cursor = page.sessions, page.next_cursor
        else:
            rows, next_cursor = (await run_in_threadpool(service.status, station_id)).sessions, None
        if "text/csv" in request.headers.get("accept", ""):
            headers = {} if next_cursor is None else {"X-Next-Cursor": next_cursor}
            return Response(_csv(rows), media_type="text/csv", headers=headers)
        return SessionPage(sessions=rows, next_cursor=next_cursor)

    return router


def _json(model: BaseModel, status_code: int = 200) -> Response:
    """``model`` serialised once by pydantic (the service's models are valid by construction;
    FastAPI would validate them again)."""
    return Response(model.model_dump_json(), status_code, media_type="application/json")


def _csv(sessions: list[Session]) -> str:
    columns = list(ClosedSession.model_fields)
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for session in sessions:
        writer.writerow(session.model_dump(mode="json"))
    return out.getvalue()


def _json_safe(value):
    """``value`` with non-finite floats as strings (a NaN in a body must be echoed, and JSON
    has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, err: RequestValidationError):
        detail = _json_safe(jsonable_encoder(err.errors()))
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(InvalidField)
    async def invalid_field(_request: Request, err: InvalidField):
        detail = [{"type": "value_error", "loc": ["body", err.field], "msg": str(err),
                   "input": err.value}]  # fmt: skip
        return JSONResponse({"detail": detail}, status_code=err.status_code)

    @app.exception_handler(ServiceError)
    @app.exception_handler(Unauthorized)
    @app.exception_handler(Forbidden)
    async def refused(_request: Request, err: Exception):
        return JSONResponse({"detail": str(err)}, status_code=err.status_code)


async def _tick_forever(service: StationService) -> None:
    """Makes every station's periodic decisions as their times come."""
    while True:
        now = service.clock.now()
        next_time = decision_times(now, now + datetime.timedelta(seconds=service.tick_s),
                                   service.tick_s)[0]  # fmt: skip
        await asyncio.sleep(max((next_time - service.clock.now()).total_seconds(), 0.0))
        for station_id in service.station_ids:
            try:
                await run_in_threadpool(service.refresh, station_id)
            except Exception:  # keep ticking the others; the next request retries
                log.exception("periodic decision of station %s failed", station_id)
