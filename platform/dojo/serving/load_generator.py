"""`python -m dojo.serving.load_generator URL`: score synthetic transactions at a steady rate.

Why in the serving image: on Kubernetes (lab 10) it runs as a Job next to the model server, so
the load comes from inside the cluster through the Service, the way clients' traffic does, and
the HPA sees it. Each request is a real transaction from the synthetic generator (same users
and merchants as the history), sent at a fixed rate by a pool of connections; the summary says
how many were answered, how many failed, and the latency percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field

import httpx
import numpy as np

from dojo.contracts import Transaction

# Payloads are generated once and cycled: the generator's cost stays out of the measured rate.
PAYLOADS = 2_000


@dataclass
class LoadResult:
    """What one run did; ``summary()`` is the line the Job's log ends with."""

    sent: int = 0
    ok: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    latencies_s: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0

    def record(self, outcome: str, latency_s: float) -> None:
        self.sent += 1
        if outcome == "200":
            self.ok += 1
            self.latencies_s.append(latency_s)
        else:
            self.failed[outcome] = self.failed.get(outcome, 0) + 1

    def summary(self) -> str:
        rate = self.sent / self.elapsed_s if self.elapsed_s else 0.0
        if self.latencies_s:
            p50, p99 = np.percentile(np.array(self.latencies_s) * 1000, [50, 99])
            latency = f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        else:
            latency = "no answered request"
        failed = ", ".join(f"{k}: {v}" for k, v in sorted(self.failed.items())) or "none"
        return (f"load: {self.sent} requests in {self.elapsed_s:.0f} s ({rate:.1f}/s), "
                f"{self.ok} answered 200, failed: {failed}; {latency}")


def payloads(count: int, seed: int) -> list[dict]:
    """Transactions as the API takes them (JSON-ready), from the synthetic generator."""
    from dojo.synthetic.generator import generate_live

    frame = generate_live(count, seed)
    columns = list(Transaction.model_fields)
    return [Transaction.model_validate(row).model_dump(mode="json")
            for row in frame[columns].to_dict(orient="records")]


async def run_load(url: str, rate: float, duration_s: float, concurrency: int,
                   bodies: list[dict], timeout_s: float = 5.0) -> LoadResult:
    """POST ``bodies`` (cycled) to ``url``/predict, ``rate`` per second for ``duration_s``.

    A ticket per request is released on schedule; ``concurrency`` workers take tickets, so a
    slow server shows up as latency and failures rather than as a silently lower rate (until
    all workers are busy, which the summary's achieved rate then shows).
    """
    result = LoadResult()
    total = max(1, int(rate * duration_s))
    tickets: asyncio.Queue[int | None] = asyncio.Queue()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        while (index := await tickets.get()) is not None:
            started = time.perf_counter()
            try:
                response = await client.post("/predict", json=bodies[index % len(bodies)])
                outcome = str(response.status_code)
            except httpx.HTTPError as error:
                outcome = type(error).__name__
            result.record(outcome, time.perf_counter() - started)

    async with httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout_s,
                                 limits=limits) as client:
        workers = [asyncio.create_task(worker(client)) for _ in range(concurrency)]
        begin = time.perf_counter()
        for index in range(total):
            delay = begin + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tickets.put_nowait(index)
        for _ in workers:
            tickets.put_nowait(None)
        await asyncio.gather(*workers)
        result.elapsed_s = time.perf_counter() - begin
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dojo.serving.load_generator",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("url", help="model server base URL, e.g. http://model-server:8000")
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--concurrency", type=int, default=16, help="connections at most")
    parser.add_argument("--seed", type=int, default=10, help="seed of the transactions")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.concurrency < 1:
        print("error: --rate and --duration must be > 0 and --concurrency >= 1", file=sys.stderr)
        return 2
    print(f"load: {args.rate:g}/s for {args.duration:g} s against {args.url} "
          f"({args.concurrency} connections)", flush=True)
    result = asyncio.run(run_load(args.url, args.rate, args.duration, args.concurrency,
                                  payloads(PAYLOADS, args.seed)))
    print(result.summary(), flush=True)
    # Exit 1 when nothing was answered: the Job then shows as failed in `kubectl get jobs`.
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
