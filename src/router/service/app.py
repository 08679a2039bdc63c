"""The HTTP service: ``POST /v1/extract``, ``GET /healthz``, ``GET /readyz``, ``GET /metrics``.

``create_app(router_factory, settings)`` builds the FastAPI app. The router is built when the app
starts and closed when it stops, after the requests in flight have finished (uvicorn's lifespan).
Extraction runs in a thread pool, so requests are served concurrently.

``/v1/extract`` answers 200 with the ``Result`` when a tier answered, 422 with it when the document
cannot be read, 503 with it when every tier failed; 401, 413, 415 and 503 ``overloaded`` carry an
``{"error": {"code", "message"}}`` body instead.

Memory: up to ``max_in_flight`` requests are accepted, but only ``max_parallel`` of them are read
into memory, decoded and routed at once; the others wait with their upload spooled (Starlette keeps
at most 1 MB of each in memory, the rest on disk).
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Request
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response

from router import __version__
from router.errors import ErrorClass
from router.result import Result
from router.service.errors import error_response
from router.service.guards import BearerAuth, BodyLimit
from router.service.metrics import CONTENT_TYPE, Metrics
from router.service.readiness import readiness
from router.service.settings import ServiceSettings

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass
class _Live:
    """What exists while the app runs."""

    router: Any = None
    limiter: anyio.CapacityLimiter | None = None  # documents read, decoded and routed at once
    in_flight: int = 0


def create_app(router_factory: Callable[[], Any], settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings()
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

    @app.post("/v1/extract")
    async def extract(request: Request) -> Response:
        if live.in_flight >= settings.max_in_flight:
            message = f"{live.in_flight} requests in flight, the most this service takes; retry shortly"
            return error_response(503, "overloaded", message, headers={"Retry-After": "1"})
        request_id = _request_id(request)
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
        finally:
            live.in_flight -= 1
            metrics.in_flight.dec()
        metrics.observe(result)
        body = result.model_dump(mode="json")
        return JSONResponse(body, status_code=http_status(result), headers={"X-Request-ID": request_id})

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        router = live.router
        if router is None:
            return JSONResponse({"ready": False, "tiers": {}}, status_code=503)
        ready, tiers = readiness(router.status())
        return JSONResponse({"ready": ready, "tiers": tiers}, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes)
    app.add_middleware(BearerAuth, token=settings.token)
    app.add_middleware(_CountRequests, metrics=metrics)  # outermost: refusals are counted too
    app.state.metrics = metrics
    return app


def http_status(result: Result) -> int:
    if result.status != "failed":
        return 200
    if result.error is not None and result.error.error_class is ErrorClass.BAD_INPUT:
        return 422
    return 503


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


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
    if content_type == "multipart/form-data":
        async with request.form(max_files=1, max_fields=16) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                yield error_response(422, "missing_file", "no file in the multipart field 'file'")
            else:
                yield _Source(Path(upload.filename or "upload").name[:200] or "upload", upload=upload)
    elif content_type == "application/json":
        yield await _server_path(request, settings.allow_path)
    else:
        yield error_response(
            415, "unsupported_media_type", "send multipart/form-data with the document in the field 'file'"
        )


async def _server_path(request: Request, allowed: Path | None) -> _Source | Response:
    if allowed is None:
        return error_response(403, "server_paths_disabled", "server paths are not enabled; upload the file instead")
    try:
        body = await request.json()
    except ValueError:
        return error_response(400, "bad_json", "the body is not valid JSON")
    given = body.get("path") if isinstance(body, dict) else None
    if not isinstance(given, str) or not given:
        return error_response(422, "missing_path", 'expected a JSON body {"path": "..."}')
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
