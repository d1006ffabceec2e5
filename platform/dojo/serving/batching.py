"""Adaptive micro-batching: requests that arrive while a batch is being scored go together.

Why no fixed wait: a timer ("collect for 2 ms") adds its delay to every request, even alone.
Here the batch size follows the load by itself. One batch is scored at a time on a worker
thread; the requests that arrive meanwhile queue up and become the next batch. Idle, a request
is scored at once (a batch of one); under load, batches grow until one feature read and one
predict serve many requests. The bound (`DOJO_SERVING_MICRO_BATCH_MAX`) caps the latency a
large batch adds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from dojo.serving.metrics import ServingMetrics

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    """``submit`` a list of items (one request's rows); get their results in order."""

    def __init__(self, handler: Callable[[list[T]], list[R]], max_rows: int,
                 metrics: ServingMetrics,
                 thread_initializer: Callable[[], None] | None = None) -> None:
        self.handler = handler
        self.max_rows = max_rows
        self.metrics = metrics
        self._queue: asyncio.Queue[tuple[list[T], asyncio.Future[list[R]]]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scoring",
                                            initializer=thread_initializer)

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self._executor.shutdown(wait=True)

    async def submit(self, items: list[T]) -> list[R]:
        assert self._queue is not None, "start() the batcher first"
        future: asyncio.Future[list[R]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((items, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            units = [await self._queue.get()]
            rows = len(units[0][0])
            while rows < self.max_rows and not self._queue.empty():
                unit = self._queue.get_nowait()
                units.append(unit)
                rows += len(unit[0])
            live = [(items, fut) for items, fut in units if not fut.done()]  # client gone
            if not live:
                continue
            self.metrics.batch_size.observe(sum(len(items) for items, _ in live))
            await self._score(loop, live)

    async def _score(self, loop: asyncio.AbstractEventLoop,
                     units: list[tuple[list[T], asyncio.Future[list[R]]]]) -> None:
        flat = [item for items, _ in units for item in items]
        try:
            results = await loop.run_in_executor(self._executor, self.handler, flat)
        except Exception as error:
            if len(units) == 1:
                _settle(units[0][1], error=error)
                return
            # One bad unit must not fail the others: score each on its own.
            for items, future in units:
                try:
                    _settle(future, await loop.run_in_executor(self._executor, self.handler,
                                                               items))
                except Exception as unit_error:
                    _settle(future, error=unit_error)
            return
        start = 0
        for items, future in units:
            _settle(future, results[start:start + len(items)])
            start += len(items)


def _settle(future: asyncio.Future, value: object = None,
            error: BaseException | None = None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
