"""Logging: the level comes from DOJO_LOG_LEVEL; JSON lines off a terminal, readable on one."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from dojo.cli.common import settings_or_exit
from dojo.logs import configure_logging


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("MLFLOW_LOGGING_LEVEL", raising=False)  # restored after the test
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def test_off_a_terminal_every_event_is_one_json_line() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream)
    structlog.get_logger("dojo.test").info("stream.batch", applied=3)
    logging.getLogger("feast").warning("from a library")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["event"] == "stream.batch" and lines[0]["applied"] == 3
    assert lines[0]["level"] == "info" and "timestamp" in lines[0]
    assert lines[1] == {**lines[1], "event": "from a library", "level": "warning",
                        "logger": "feast"}


def test_on_a_terminal_lines_are_for_people() -> None:
    stream = Terminal()
    configure_logging("INFO", stream)
    structlog.get_logger().info("stack.up", components=8)
    text = stream.getvalue()
    assert "stack.up" in text and "components" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


def test_the_level_setting_is_what_the_cli_applies(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DOJO_LOG_LEVEL", "WARNING")
    settings_or_exit()
    log = structlog.get_logger()
    log.info("not shown")
    log.warning("shown")
    logging.getLogger("mlflow").info("not shown either")
    err = capsys.readouterr().err
    assert "shown" in err and "not shown" not in err
    assert logging.getLogger().level == logging.WARNING


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="LOUD"):
        configure_logging("LOUD", io.StringIO())


def test_logs_follow_stderr_when_it_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    first = io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    configure_logging("INFO")
    first.close()  # a test runner's capture ends; the process goes on logging
    second = io.StringIO()
    monkeypatch.setattr("sys.stderr", second)
    structlog.get_logger().info("after.swap")
    logging.getLogger("feast").warning("library after swap")
    assert [json.loads(line)["event"] for line in second.getvalue().splitlines()] == [
        "after.swap", "library after swap"]


def test_chatty_libraries_stay_quiet_at_info() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream)
    logging.getLogger("httpx").info('HTTP Request: GET http://127.0.0.1:8080/ "HTTP/1.1 200 OK"')
    logging.getLogger("feast.infra.registry.registry").info("Registry cache expired")
    logging.getLogger("httpx").warning("a retry that matters")
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == [
        "a retry that matters"]
