"""The model server seen from outside: health, what it serves, admin calls, its metrics.

Why over HTTP (not by importing the server): deploy and rollout drive whatever server is in
service (a supervised process, a container, a pod behind a port-forward) exactly as an
operator would, and the admin calls need the same token a person would use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families


class ServerError(RuntimeError):
    """The model server did not answer as expected; the message says what it answered."""


@dataclass(frozen=True)
class Served:
    """What /model reports: the version per alias and the routing."""

    champion: str | None
    challenger: str | None
    mode: str
    canary_share: float
    problem: str | None


class ServerApi:
    def __init__(self, url: str, admin_token: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._admin = {"Authorization": f"Bearer {admin_token}"}
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServerApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ probes
    def alive(self) -> bool:
        try:
            return self._http.get("/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def ready(self) -> tuple[bool, str]:
        """(ready, why not): /ready's verdict, or why it could not be asked."""
        try:
            response = self._http.get("/ready", timeout=5.0)
        except httpx.HTTPError as error:
            return False, f"{self.url} unreachable ({type(error).__name__})"
        body = response.json()
        return response.status_code == 200, "; ".join(body.get("reasons", [])) or "ready"

    def served(self) -> Served:
        body = self._get("/model")
        aliases = body.get("aliases", {})
        routing = body.get("routing", {})

        def version(alias: str) -> str | None:
            entry = aliases.get(alias)
            return None if entry is None else str(entry["version"])

        return Served(version("champion"), version("challenger"), routing.get("mode", "off"),
                      float(routing.get("canary_share", 0.0)), body.get("problem"))

    # ------------------------------------------------------------------ admin
    def reload(self) -> list[str]:
        """Ask the server to look at the aliases now. It loads what moved before answering,
        so the wait is a model download: a generous timeout."""
        return self._request("POST", "/admin/reload", None, admin=True,
                             timeout_s=120.0).get("changes", [])

    def route(self, mode: str, share: float | None = None) -> None:
        body: dict[str, Any] = {"mode": mode}
        if share is not None:
            body["canary_share"] = share
        self._request("PUT", "/admin/routing", body, admin=True)

    # ------------------------------------------------------------------ scoring
    def predict_batch(self, transactions: list[dict[str, Any]]) -> httpx.Response:
        """The raw response: the smoke test judges the status code as well as the body."""
        try:
            return self._http.post("/predict/batch", json={"transactions": transactions})
        except httpx.HTTPError as error:
            raise ServerError(f"{self.url}/predict/batch: {type(error).__name__}") from None

    def metrics(self) -> dict[str, float]:
        """Every sample of /metrics as `name{label="v",...}` -> value (labels sorted)."""
        text = self._http.get("/metrics").text
        samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}"] = float(sample.value)
        return samples

    # ------------------------------------------------------------------ plumbing
    def _get(self, path: str) -> dict[str, Any]:
        return self._request("GET", path, None)

    def _request(self, method: str, path: str, body: Any, admin: bool = False,
                 timeout_s: float | None = None) -> dict[str, Any]:
        try:
            response = self._http.request(
                method, path, json=body, headers=self._admin if admin else None,
                timeout=timeout_s if timeout_s is not None else self._http.timeout)
        except httpx.HTTPError as error:
            raise ServerError(f"{self.url}{path} unreachable ({type(error).__name__})") \
                from None
        if response.status_code >= 400:
            raise ServerError(f"{method} {self.url}{path} answered {response.status_code}: "
                              f"{response.text[:200]}")
        return response.json()
