"""The HTTP service: ``POST /v1/extract``, ``GET /healthz``, ``GET /readyz``, ``GET /metrics``.

``create_app(router_factory, settings)`` builds the FastAPI app. The router is built when the app
starts and closed when it stops, after the requests in flight have finished (uvicorn's lifespan).
Extraction runs in a thread pool, so requests are served concurrently.

``/v1/extract`` answers 200 with the ``Result`` when a tier answered (``needs_review`` too: answers
were found, none sure enough; not an error); a failed document gets its
``Result`` with the status ``router.service.errors.status_for`` gives its error class (422: the
document's fault; 503: no tier could answer now). Refusals (400, 401, 403, 404, 405, 408, 413, 415,
422, 503 ``overloaded``) carry an ``{"error": {"code", "message"}}`` body; every answer echoes
``X-Request-ID`` (``router.service.request_ids``). A client that goes away before its answer is
one ``service.client_disconnected`` event and counts as 499 in the metrics.

Memory: up to ``max_in_flight`` requests are accepted, but only ``max_parallel`` of them are read
into memory, decoded and routed at once; the others wait with their upload spooled (Starlette keeps
at most 1 MB of each file in memory, the rest on disk;
``router.service.bodies`` bounds the fields beside it and JSON bodies).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response

from router import __version__
from router.core.result import Result
from router.observe import events
from router.observe.logs import get_logger
from router.service import bodies
from router.service.errors import CLIENT_CLOSED, CODES, error_response, retry_headers, status_for
from router.service.guards import BearerAuth, BodyDeadline, BodyLimit
from router.service.metrics import CONTENT_TYPE, Metrics
from router.service.readiness import readiness, warming
from router.service.request_ids import SCOPE_KEY, RequestIds
from router.service.server import DROPPED_AT_SHUTDOWN
from router.service.settings import ServiceSettings


@dataclass
class _Live:
    """What exists while the app runs."""

    router: Any = None
    limiter: anyio.CapacityLimiter | None = None  # documents read, decoded and routed at once
    in_flight: int = 0


def create_app(router_factory: Callable[[], Any], settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings()
    # python-multipart's warnings on a malformed body quote its bytes (a document's); the 400 says it
    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    live = _Live()
    metrics = Metrics(lambda: live.router.status() if live.router is not None else None)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        live.router = await anyio.to_thread.run_sync(router_factory)
        live.limiter = anyio.CapacityLimiter(settings.max_parallel or live.router.parallelism())
        try:
            yield
        finally:
            router, live.router = live.router, None
            await anyio.to_thread.run_sync(router.close)

    app = FastAPI(title="docroute", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.exception_handler(HTTPException)
    async def refusal(_: Request, exc: HTTPException) -> Response:
        """Starlette's own refusals (no route, wrong method, a malformed multipart body) in our body."""
        code = CODES.get(exc.status_code, "refused")
        return error_response(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))

    @app.post("/v1/extract", responses=RESPONSES)
    async def extract(request: Request) -> Response:
        if live.in_flight >= settings.max_in_flight:
            message = f"{live.in_flight} requests in flight, the most this service takes; retry shortly"
            return error_response(503, "overloaded", message, headers={"Retry-After": "1"})
        request_id = request.scope[SCOPE_KEY]
        live.in_flight += 1
        metrics.in_flight.inc()
        try:
            async with _source(request, settings) as source:
                if isinstance(source, Response):
                    return source
                async with _turn(live.limiter, metrics):
                    call = functools.partial(
                        live.router.extract, await source.read(), name=source.name, request_id=request_id
                    )
                    result: Result = await anyio.to_thread.run_sync(call)
        except ClientDisconnect:
            return _client_gone(request)
        finally:
            live.in_flight -= 1
            metrics.in_flight.dec()
        metrics.observe(result)
        body = result.model_dump(mode="json")
        if result.error is not None:  # the documented error body: code and message, beside the class
            body["error"] = {"code": result.error.error_class.value, **body["error"]}
        status = http_status(result)
        return JSONResponse(body, status_code=status, headers=retry_headers(status))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        router = live.router
        if router is None:
            return JSONResponse({"ready": False, "warming": True, "tiers": {}}, status_code=503)
        status = router.status()
        ready, tiers = readiness(status)
        body = {"ready": ready, "warming": warming(status), "tiers": tiers}
        return JSONResponse(body, status_code=200 if ready else 503)

    # load balancers probe with HEAD too: the same status, no body
    app.head("/healthz", include_in_schema=False)(healthz)
    app.head("/readyz", include_in_schema=False)(readyz)

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    app.add_middleware(BodyDeadline, timeout_s=settings.body_timeout_s)
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes)
    app.add_middleware(BearerAuth, token=settings.token)
    app.add_middleware(RequestIds)  # outside the guards: their refusals carry the id too
    app.add_middleware(_CountRequests, metrics=metrics)  # outermost: refusals are counted too
    app.state.metrics = metrics
    return app


#: What the OpenAPI schema says of ``/v1/extract``: the Result, its statuses.
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": Result,
        "description": "A tier answered: status ok, degraded or needs_review (answers found, none sure enough: "
        "the best values are under fields, the doubtful ones under review).",
    },
    422: {"model": Result, "description": "status failed: the document's fault (bad input, no usable answer)."},
    503: {"model": Result, "description": "status failed: no tier could answer now; retry after Retry-After."},
    500: {"model": Result, "description": "status failed: a failure of no known class (a bug)."},
}


def http_status(result: Result) -> int:
    if result.status != "failed":
        return 200
    return status_for(result.error.error_class if result.error is not None else None)


def _client_gone(request: Request) -> Response:
    """One event, no traceback; 499 for the metrics (the client never sees it)."""
    dropped = bool(request.scope.get(DROPPED_AT_SHUTDOWN))
    reason = "dropped at shutdown" if dropped else "client disconnected"
    events.SERVICE_CLIENT_DISCONNECTED.emit(get_logger(), request_id=request.scope[SCOPE_KEY], reason=reason)
    return error_response(CLIENT_CLOSED, "client_closed_request", f"{reason} before the request was read")


@asynccontextmanager
async def _turn(limiter: anyio.CapacityLimiter | None, metrics: Metrics) -> AsyncIterator[None]:
    """A slot to read, decode and route one document in; waiting for it shows as queued."""
    assert limiter is not None, "the app has not started"
    with metrics.queued.track_inprogress():
        await limiter.acquire()
    try:
        yield
    finally:
        limiter.release()


@dataclass
class _Source:
    """The document a request names: an upload (read only once the request's turn comes) or a path."""

    name: str
    upload: UploadFile | None = None
    path: Path | None = None

    async def read(self) -> bytes | Path:
        if self.upload is not None:
            return await self.upload.read()
        assert self.path is not None, "a source is an upload or a path"
        return self.path


@asynccontextmanager
async def _source(request: Request, settings: ServiceSettings) -> AsyncIterator[_Source | Response]:
    """The document to read, or a refusal; an upload stays open (and spooled) for the context."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        bodies.check_coding(request)
        body = await bodies.read_json(request) if content_type == "application/json" else None
    except bodies.BodyRefused as refused:  # the body is left unread: the connection is closed after the answer
        yield error_response(refused.status, refused.code, refused.message, headers={"Connection": "close"})
        return
    if content_type == "multipart/form-data":
        async with request.form(
            max_files=1, max_fields=bodies.MAX_FIELDS, max_part_size=bodies.MAX_FIELD_BYTES
        ) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                yield error_response(422, "missing_file", "no file in the multipart field 'file'")
            else:
                yield _Source(bodies.upload_name(upload.filename), upload=upload)
    elif content_type == "application/json":
        yield _server_path(body, settings.allow_path)
    else:
        yield error_response(
            415, "unsupported_media_type", "send multipart/form-data with the document in the field 'file'"
        )


def _server_path(body: Any, allowed: Path | None) -> _Source | Response:
    """The file a JSON body names, or a refusal (a malformed body was refused before this)."""
    if allowed is None:
        return error_response(403, "server_paths_disabled", "server paths are not enabled; upload the file instead")
    given = body.get("path") if isinstance(body, dict) else None
    if not isinstance(given, str) or not given:
        return error_response(422, "missing_path", 'expected a JSON body {"path": "..."}')
    problem = _path_problem(given)
    if problem:
        return error_response(422, "bad_path", problem)
    root = allowed.resolve()
    try:
        path = (root / given).resolve()
    except (OSError, RuntimeError):  # a symbolic link loop (RuntimeError before Python 3.13)
        return error_response(
            422, "unresolvable_path", f"{given}: a symbolic link loop, or a path that cannot be resolved"
        )
    if not path.is_relative_to(root):
        return error_response(403, "path_not_allowed", "the path is outside the folder this service may read")
    return _Source(given, path=path)


def _path_problem(given: str) -> str | None:
    """Why a path cannot name a file, checked before anything touches the file system."""
    if "\x00" in given:
        return "the path contains a NUL character"
    try:
        given.encode("utf-8")
    except UnicodeEncodeError:
        return "the path is not valid Unicode (a lone surrogate)"
    return None


class _CountRequests:
    def __init__(self, app: Any, *, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        code = 500

        async def record(message: dict[str, Any]) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            self.metrics.count_request(scope["path"], code)
