"""What guards the routes: body size (413), rate limit (429), the admin token (401/403),
and the short JSON error every 4xx uses.

Why pure ASGI middleware for the size limit and the request metrics: Starlette's
BaseHTTPMiddleware runs each request through an extra task and stream, which costs measurable
throughput on a path that takes a few milliseconds.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dojo.serving.metrics import ServingMetrics
from dojo.serving.rate_limit import RateLimiter, retry_after_header


class GuardError(Exception):
    """Raised by a route guard; rendered as ErrorBody with this status."""

    def __init__(self, status: int, error: str, field: str | None = None,
                 detail: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.field, self.detail = status, error, field, detail
        self.headers = headers or {}


def error_response(status: int, error: str, field: str | None = None,
                   detail: str | None = None, headers: dict[str, str] | None = None
                   ) -> JSONResponse:
    return JSONResponse({"error": error, "field": field, "detail": detail}, status_code=status,
                        headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


async def on_validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
    first = error.errors()[0]
    if first.get("type") == "json_invalid":
        return error_response(422, "invalid request", "body", "not valid JSON")
    message = str(first.get("msg", "invalid"))
    extra = len(error.errors()) - 1
    if extra:
        message += f" (and {extra} more problem{'s' if extra > 1 else ''})"
    return error_response(422, "invalid request", _field(tuple(first.get("loc", ()))),
                          message[:300])


async def on_guard_error(_request: Request, error: GuardError) -> JSONResponse:
    return error_response(error.status, error.error, error.field, error.detail, error.headers)


async def on_http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
    return error_response(error.status_code, str(error.detail).lower()[:200],
                          headers=getattr(error, "headers", None))


def rate_limit_guard(limiter: RateLimiter, metrics: ServingMetrics
                     ) -> Callable[[Request], Awaitable[None]]:
    async def guard(request: Request) -> None:
        key = request.headers.get("x-api-key") or (
            request.client.host if request.client else "anonymous")
        decision = limiter.check(key)
        if not decision.allowed:
            metrics.rate_limited.inc()
            raise GuardError(
                429, "rate limit exceeded", "X-API-Key",
                f"{limiter.rate:g} requests/s per key, bursts of {limiter.burst}",
                headers={"Retry-After": retry_after_header(decision)})

    return guard


def admin_guard(token: str) -> Callable[[Request], Awaitable[None]]:
    expected = token.encode()

    async def guard(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise GuardError(401, "admin token required", "Authorization",
                             "send Authorization: Bearer <DOJO_SERVING_ADMIN_TOKEN>",
                             headers={"WWW-Authenticate": "Bearer"})
        if not secrets.compare_digest(given.encode(), expected):
            raise GuardError(403, "wrong admin token", "Authorization")

    return guard


class _TooLarge(Exception):
    pass


class BodyLimit:
    """413 for a body over ``max_bytes``, by Content-Length or while it streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and (
                    not value.isdigit() or int(value) > self.max_bytes):
                await self._refuse(scope, receive, send)
                return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, "request body too large", "body",
                                  f"limit {self.max_bytes} bytes (DOJO_SERVING_MAX_BODY_BYTES)")
        await response(scope, receive, send)


class RequestMetrics:
    """Latency by route and status, and requests in flight (known routes only: a scanner's
    random paths would otherwise create a time series each)."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics, routes: set[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        route = path if path in self.routes else "other"
        status = 500
        started = time.perf_counter()

        async def tracked_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, tracked_send)
        finally:
            self.metrics.in_flight.dec()
            self.metrics.request_duration.labels(route, scope.get("method", ""), str(status)) \
                .observe(time.perf_counter() - started)
