"""Live traffic for a rollout to watch: generated transactions sent to /predict at a rate.

Why it exists: a gate judges the challenger on the traffic of its step, and on a laptop no
users send any. This plays them: many users (so the canary's hash picks its share of them),
one request per transaction, as a client would, counting every answer that is not a 200 —
which is how "no request failed during the rollout" is shown rather than assumed.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from dojo.delivery.known_rows import transactions


class Traffic:
    """Send ``rate`` requests/s to ``url``/predict from ``workers`` threads until stopped."""

    def __init__(self, url: str, rate: float, seed: int = 11, workers: int = 4,
                 pool: int = 2000) -> None:
        self.url = url.rstrip("/")
        self.rate = rate
        self.workers = workers
        self.rows = transactions(pool, seed, "traffic")
        self.statuses: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: ThreadPoolExecutor | None = None

    @property
    def sent(self) -> int:
        with self._lock:
            return sum(self.statuses.values())

    @property
    def failed(self) -> int:
        with self._lock:
            return sum(n for status, n in self.statuses.items() if status != "200")

    def summary(self) -> str:
        with self._lock:
            shown = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return f"{self.sent} requests, {self.failed} failed ({shown or 'none sent'})"

    def start(self) -> Traffic:
        self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="traffic")
        for worker in range(self.workers):
            self._threads.submit(self._run, worker)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._threads is not None:
            self._threads.shutdown(wait=True)

    def _run(self, worker: int) -> None:
        pause = self.workers / self.rate
        i = worker
        with httpx.Client(timeout=10.0) as client:
            next_at = time.monotonic()
            while not self._stop.is_set():
                row = self.rows[i % len(self.rows)]
                i += self.workers
                try:
                    status = str(client.post(f"{self.url}/predict", json=row).status_code)
                except httpx.HTTPError as error:
                    status = type(error).__name__
                with self._lock:
                    self.statuses[status] += 1
                next_at += pause
                self._stop.wait(max(0.0, next_at - time.monotonic()))
