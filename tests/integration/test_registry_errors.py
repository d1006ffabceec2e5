"""A registry error must never read as "no champion".

Why: the publish step makes a new version champion when none exists (the bootstrap), and the
champion comparison is skipped when there is no champion. If a 500 from the registry counted
as "no alias", a registry hiccup would crown an unchecked model. A proxy in front of the real
MLflow server fails only the alias look-up, the way a registry under load does.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pandas as pd
import pytest
from mlflow import MlflowClient

from dojo.runtime.ports import free_port
from dojo.settings import Settings, load_settings
from dojo.training import tracking
from dojo.training.champion import compare_with_champion
from dojo.training.errors import DependencyDown

ALIAS_PATH = "/api/2.0/mlflow/registered-models/alias"


def proxy_handler(upstream: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            if self.path.startswith(ALIAS_PATH):
                body = b'{"error_code": "INTERNAL_ERROR", "message": "database is locked"}'
                self.send_response(500)
            else:
                length = int(self.headers.get("Content-Length") or 0)
                answer = httpx.request(self.command, upstream + self.path,
                                       content=self.rfile.read(length) if length else None,
                                       headers={"Content-Type": "application/json"})
                body = answer.content
                self.send_response(answer.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_DELETE = _forward

        def log_message(self, *args: object) -> None:
            return None

    return Handler


@pytest.fixture
def failing_registry(healthy_stack: Settings,
                     monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The session stack's MLflow behind a proxy whose alias look-ups answer 500."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # the client's own retries
    server = ThreadingHTTPServer(("127.0.0.1", free_port()),
                                 proxy_handler(healthy_stack.tracking_uri))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_missing_model_or_alias_is_no_alias(healthy_stack: Settings) -> None:
    uri = healthy_stack.tracking_uri
    client = MlflowClient(uri, registry_uri=uri)
    name = f"fraud-no-alias-{uuid.uuid4().hex[:6]}"
    assert tracking.alias_version(client, name, tracking.CHAMPION) is None  # no such model
    client.create_registered_model(name)
    assert tracking.alias_version(client, name, tracking.CHAMPION) is None  # no such alias


def test_a_registry_error_is_not_read_as_no_alias(failing_registry: str) -> None:
    client = MlflowClient(failing_registry, registry_uri=failing_registry)
    with pytest.raises(DependencyDown, match="MLflow model registry") as caught:
        tracking.alias_version(client, "fraud", tracking.CHAMPION)
    assert failing_registry in str(caught.value)


def test_the_champion_comparison_fails_instead_of_being_skipped(failing_registry: str) -> None:
    settings = load_settings(mlflow_tracking_uri=failing_registry)
    with pytest.raises(DependencyDown, match="MLflow model registry"):
        compare_with_champion(settings, pd.DataFrame(), candidate=None, features=[],
                              min_positives=1)
