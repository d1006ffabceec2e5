"""The model server's HTTP API (FastAPI): predict, health, readiness, model, metrics, admin.

Routes stay thin: validation is the pydantic models', scoring is `ModelService`'s. Every 4xx
is a short JSON error naming the field or limit (`ErrorBody`); no input can produce a 5xx.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from dojo.contracts import Transaction
from dojo.serving import api_models as m
from dojo.serving.http_guards import (
    BodyLimit,
    GuardError,
    RequestMetrics,
    admin_guard,
    error_response,
    on_guard_error,
    on_http_error,
    on_validation_error,
    rate_limit_guard,
)
from dojo.serving.routing import RoutingPolicy
from dojo.serving.scoring import NotReady
from dojo.serving.service import ModelService
from dojo.training.registry import CHALLENGER, CHAMPION

_log = structlog.get_logger(__name__)


def _errors(*codes: int) -> dict[int | str, dict]:
    return {code: {"model": m.ErrorBody} for code in codes}


PREDICT_ERRORS = _errors(413, 422, 429, 503)
ADMIN_ERRORS = _errors(401, 403, 422)


def create_app(service: ModelService) -> FastAPI:
    """The ASGI app around ``service``; its lifespan starts and stops the service."""
    settings = service.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title="mlops-dojo model server", version="1",
                  description="Real-time card-fraud scoring with the registry's champion.",
                  lifespan=lifespan)
    app.state.service = service
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(GuardError, on_guard_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    limited = [Depends(rate_limit_guard(service.limiter, service.metrics))]
    admin = [Depends(admin_guard(settings.serving_admin_token))]

    async def scored(transactions: list[Transaction]) -> list[m.Prediction] | JSONResponse:
        try:
            results = await service.predict(transactions)
        except NotReady as error:
            return error_response(503, "no model loaded", detail=str(error))
        return [m.Prediction.model_validate(r) for r in results]

    @app.post("/predict", response_model=m.Prediction, responses=PREDICT_ERRORS,
              dependencies=limited)
    async def predict(transaction: Transaction) -> m.Prediction | JSONResponse:
        """Score one transaction with the champion (or the canary for its share of users)."""
        result = await scored([transaction])
        return result if isinstance(result, JSONResponse) else result[0]

    @app.post("/predict/batch", response_model=m.BatchPrediction, responses=PREDICT_ERRORS,
              dependencies=limited)
    async def predict_batch(body: m.BatchRequest) -> m.BatchPrediction | JSONResponse:
        """Score up to DOJO_SERVING_BATCH_MAX_ROWS transactions in one call."""
        limit = settings.serving_batch_max_rows
        if len(body.transactions) > limit:
            return error_response(413, "too many rows", "transactions",
                                  f"limit {limit} rows (DOJO_SERVING_BATCH_MAX_ROWS)")
        result = await scored(body.transactions)
        return result if isinstance(result, JSONResponse) else m.BatchPrediction(
            predictions=result)

    @app.get("/health", response_model=m.Health)
    async def health() -> m.Health:
        """The process is alive (says nothing about the model: see /ready)."""
        return m.Health(status="alive")

    @app.get("/ready", response_model=m.Readiness, responses={503: {"model": m.Readiness}})
    async def ready() -> m.Readiness | JSONResponse:
        """200 when a model is loaded and the online store answers; else 503 with reasons."""
        reasons = []
        champion = service.watcher.champion
        if champion is None:
            reasons.append(service.watcher.problem or "no model loaded yet")
        store = await run_in_threadpool(service.features.unavailable)
        if store:
            reasons.append(store)
        log = service.prediction_log
        body = m.Readiness(ready=not reasons, reasons=reasons,
                           model_version=champion.model.version if champion else None,
                           prediction_log=(log.problem or "ok") if log else "off")
        if reasons:
            return JSONResponse(body.model_dump(), status_code=503)
        return body

    @app.get("/model")
    async def model() -> dict:
        """What is loaded for each alias, since when, and what the cache holds."""
        watcher = service.watcher
        aliases = {}
        for alias, served in ((CHAMPION, watcher.champion), (CHALLENGER, watcher.challenger)):
            aliases[alias] = None if served is None else {
                **served.model.describe(), "since": served.since.isoformat()}
        policy = service.scorer.policy
        return {
            "registered_model": watcher.registry.name, "aliases": aliases,
            "routing": {"mode": policy.mode, "canary_share": policy.canary_share},
            "problem": watcher.problem,
            "last_checked": watcher.checked_at.isoformat() if watcher.checked_at else None,
            "cache": {"versions": service.cache.keys(), "bytes": service.cache.total_bytes,
                      "max_versions": service.cache.max_items,
                      "max_bytes": service.cache.max_bytes},
            "server_started": service.started_at.isoformat(),
        }

    @app.get("/metrics", response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics of this server."""
        return Response(generate_latest(service.metrics.registry),
                        media_type=CONTENT_TYPE_LATEST)

    @app.post("/admin/reload", response_model=m.ReloadResult, responses=ADMIN_ERRORS,
              dependencies=admin)
    async def reload() -> m.ReloadResult:
        """Ask the registry now instead of at the next poll; load what moved."""
        changes = await run_in_threadpool(service.watcher.refresh)
        return m.ReloadResult(changes=changes, problem=service.watcher.problem)

    @app.put("/admin/routing", response_model=m.RoutingState, responses=ADMIN_ERRORS,
             dependencies=admin)
    async def routing(update: m.RoutingUpdate) -> m.RoutingState:
        """Switch the challenger between off, shadow and canary (and the canary's share)."""
        current = service.scorer.policy
        share = current.canary_share if update.canary_share is None else update.canary_share
        service.set_routing(RoutingPolicy(update.mode, share))
        _log.warning("serving.routing_changed", mode=update.mode, canary_share=share)
        if update.mode != "off":
            await run_in_threadpool(service.watcher.refresh)  # load the challenger now
        return m.RoutingState(mode=update.mode, canary_share=share)

    @app.put("/admin/rate-limit", response_model=m.RateLimitUpdate, responses=ADMIN_ERRORS,
             dependencies=admin)
    async def rate_limit(update: m.RateLimitUpdate) -> m.RateLimitUpdate:
        """Change the per-key token bucket (until restart; DOJO_SERVING_RATE_LIMIT_* at start)."""
        before = (service.limiter.rate, service.limiter.burst)
        service.limiter.reconfigure(update.per_s, update.burst)
        # An admin change is a deploy without a pipeline: leave a trace of it in the log.
        _log.warning("serving.rate_limit_changed", per_s=update.per_s, burst=update.burst,
                     was_per_s=before[0], was_burst=before[1])
        return update

    routes = {route.path for route in app.routes if hasattr(route, "path")}
    app.add_middleware(BodyLimit, max_bytes=settings.serving_max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=service.metrics, routes=routes)
    return app


