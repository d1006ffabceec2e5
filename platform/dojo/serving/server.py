"""Run the model server in this process (uvicorn), as `dojo serve` and the supervisor do.

Why one worker process: the prediction log, the model cache and the metrics live in the
process; more throughput comes from micro-batching inside it (see batching.py) and, beyond
one core, from more replicas behind a load balancer (the Kubernetes labs), each with its own
/metrics for Prometheus to scrape.
"""

from __future__ import annotations

import uvicorn

from dojo.serving.app import create_app
from dojo.serving.service import ModelService
from dojo.settings import Settings


def run(settings: Settings, port: int | None = None, host: str | None = None) -> None:
    """Serve until SIGTERM/SIGINT (uvicorn drains in-flight requests, then the lifespan ends)."""
    app = create_app(ModelService(settings))
    uvicorn.run(app, host=host or settings.host, port=port or settings.serving_port,
                loop="uvloop", http="httptools", access_log=False,
                log_level=settings.log_level.lower(), timeout_graceful_shutdown=10)
