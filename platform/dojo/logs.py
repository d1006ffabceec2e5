"""Logging, configured once per process from `DOJO_LOG_LEVEL`.

Why two formats: a person at a terminal reads aligned, coloured lines; a supervisor log, a
container or a CI job is read by tools, so there every event is one JSON object per line
(`jq`-able, shippable to a log store). The choice follows whether the stream is a terminal.
Libraries that log through the standard `logging` module get the same level and the same
stream, so nothing prints below the chosen level (MLflow, which keeps a handler of its own,
included).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import TextIO

import structlog

# Library loggers held above the chosen level: kafka-python reports every retry of a probe as
# an error (the platform reports the outcome itself, in one line that says what to do), Feast's
# registry logs "Registry cache expired, so refreshing" on every read, and httpx logs every
# request at INFO (a health wait made 124 such lines in one `make up`).
NOISY: dict[str, int] = {"kafka": logging.CRITICAL, "feast.infra.registry": logging.WARNING,
                         "httpx": logging.WARNING, "httpcore": logging.WARNING}


FIRST_KEYS = ("timestamp", "level", "event")


def _first_keys_first(_logger: object, _method: str, event_dict: dict) -> dict:
    """Put time, level and event first, the rest in call order: a line reads the same way
    every time, and a lab can match it."""
    head = {key: event_dict.pop(key) for key in FIRST_KEYS if key in event_dict}
    return {**head, **event_dict}


class CurrentStderr:
    """Whatever ``sys.stderr`` is at the moment of writing, not at the moment of configuring:
    a process that swaps stderr later (a test runner capturing output, a daemon redirecting
    it) keeps getting its logs, and nothing writes to a stream that was closed."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


class JsonLines(logging.Formatter):
    """A standard-logging record as one JSON object, with the keys structlog's lines use."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"event": record.getMessage(), "level": record.levelname.lower(),
                "logger": record.name,
                "timestamp": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z")}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str = "INFO", stream: TextIO | CurrentStderr | None = None) -> None:
    """Send structlog and standard logging to ``stream`` (the current stderr) at ``level``."""
    stream = stream or CurrentStderr()
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}")
    terminal = bool(getattr(stream, "isatty", lambda: False)())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=terminal) if terminal
        else structlog.processors.JSONRenderer())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            _first_keys_first,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
                         if terminal else JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(number)
    # Libraries that attach their own handler ignore the root's level: lift theirs, and tell
    # MLflow (which configures its logger when first imported) through its own variable.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", logging.getLevelName(number))
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and logger.handlers and logger.level < number:
            logger.setLevel(number)
    for name, floor in NOISY.items():
        logging.getLogger(name).setLevel(max(number, floor))
