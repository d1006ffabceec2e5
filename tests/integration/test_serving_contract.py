"""Property-based API tests: schemathesis generates requests from the server's OpenAPI schema.

Valid, invalid and edge-case bodies for every route: none may get a 5xx, and every response
must match the schema (status codes, bodies, content types). The server runs in a thread on
a free loopback port with the in-process model of tests/serving_support.py; no other
component is started.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from dojo.runtime.ports import free_port
from dojo.runtime.waiting import wait_until
from dojo.serving.app import create_app
from dojo.serving.service import ModelService
from dojo.settings import load_settings
from serving_support import MemoryFeatures, MemoryRegistry, loaded


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    registry = MemoryRegistry({"1": loaded("1"), "2": loaded("2", flip=True)},
                              {"champion": "1", "challenger": "2"})
    service = ModelService(
        load_settings(home=tmp_path_factory.mktemp("contract"), serving_rate_limit_per_s=0,
                      serving_admin_token="contract-token", serving_registry_retry_s=0.05,
                      serving_batch_max_rows=20),
        registry=registry, features=MemoryFeatures({"u0000001": time.time()}),
        log_predictions=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    assert wait_until(ready, 30, first_pause_s=0.05).ok, "contract server not ready"
    yield url
    server.should_exit = True
    thread.join(timeout=15)


def test_no_input_gets_a_5xx_and_responses_match_the_schema(server_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{server_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/predict", "/predict/batch", "/admin/routing"}
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            # Excluded: "positive data acceptance" expects every schema-valid body to be
            # accepted, but two rules cannot be written in OpenAPI: a timestamp may not lie
            # in the future, and a batch's row limit comes from settings (413 beyond it).
            # Both answers are 4xx naming the field; the other checks still validate them.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        check()
