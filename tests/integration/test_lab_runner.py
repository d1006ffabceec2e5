"""The lab runner against tiny lab.yaml fixtures: outcomes judged, first failure explained,
polling with a deadline, exit codes, progress recorded only for a full pass."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dojo.cli.lab import app
from dojo.settings import Settings, load_settings
from dojo.teaching.labs import exit_codes
from dojo.teaching.labs.catalog import Lab, load_lab
from dojo.teaching.labs.runner import LabRunner


def make_lab(root: Path, steps: str, needs: str = "[]", status: str = "ready") -> Lab:
    folder = root / "labs" / "01-fixture"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lab.yaml").write_text(
        f"id: '01'\ntitle: Fixture\nneeds: {needs}\nstatus: {status}\nsteps:\n{steps}"
    )
    (folder / "README.md").write_text("# fixture\n")
    return load_lab(folder)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # an explicit progress file: a session stack fixture may have exported DOJO_PROGRESS_FILE
    return load_settings(home=tmp_path / "home", progress_file=tmp_path / "home" / "progress.json")


def run(lab: Lab, settings: Settings, **kwargs: object) -> tuple[int, str, list]:
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=False)
    report = LabRunner(settings, console, cwd=lab.path, **kwargs).run(lab)
    return report.exit_code, out.getvalue(), report.outcomes


def progress(settings: Settings) -> dict:
    path = settings.progress_path
    return json.loads(path.read_text()) if path.exists() else {}


def test_passing_lab_shows_commands_and_records_progress(tmp_path: Path, settings) -> None:
    lab = make_lab(tmp_path, """
  - {name: greet, run: echo hello, shows: a step prints, expect: {output: "^hello$"}}
  - {name: settings are exported, run: 'echo "$DOJO_BOOTSTRAP_SERVERS $DOJO_TRACKING_URI"'}
  - {name: expected failure code, run: exit 3, expect: {exit: 3}}
""")
    code, text, outcomes = run(lab, settings)
    assert code == exit_codes.OK, text
    assert "$ echo hello" in text and "a step prints" in text and "✓ as expected" in text
    assert len(outcomes) == 3
    assert outcomes[1].output.strip() == f"{settings.bootstrap_servers} {settings.tracking_uri}"
    assert "01" in progress(settings)["labs"]


def test_first_failure_stops_and_says_expected_seen_and_where(tmp_path: Path, settings) -> None:
    lab = make_lab(tmp_path, """
  - {name: fails, run: 'echo boom-marker; exit 1'}
  - {name: never runs, run: touch ran}
""")
    code, text, outcomes = run(lab, settings)
    assert code == exit_codes.FAILED
    assert len(outcomes) == 1 and not (lab.path / "ran").exists()
    for needle in ("stopped", "step", "1/2 fails", "expected exit status 0, saw 1",
                   "boom-marker", "dojo doctor", "README.md"):
        assert needle in text, needle
    assert progress(settings) == {}


@pytest.mark.parametrize(
    ("expect", "ok"),
    [
        ("{output: 'wor.d'}", True),
        ("{output: 'planet'}", False),
        ("{not_output: 'ERROR'}", True),
        ("{not_output: 'world'}", False),
        ("{exit: 0, output: '^hello world$'}", True),
    ],
)
def test_output_expectations(tmp_path: Path, settings, expect: str, ok: bool) -> None:
    lab = make_lab(tmp_path, f"  - {{name: s, run: echo hello world, expect: {expect}}}\n")
    code, _, _ = run(lab, settings)
    assert (code == exit_codes.OK) is ok


def test_strict_bash_fails_on_a_failing_pipeline(tmp_path: Path, settings) -> None:
    lab = make_lab(tmp_path, "  - {name: s, run: 'false | cat; echo after'}\n")
    code, text, _ = run(lab, settings)
    assert code == exit_codes.FAILED and "after" not in text.split("seen")[-1]


def test_within_polls_until_the_expectation_holds(tmp_path: Path, settings) -> None:
    # the step succeeds on its third attempt: it is the probe, the deadline bounds it
    lab = make_lab(tmp_path, """
  - name: eventually
    run: 'n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) > count; test $n -ge 2'
    expect: {within: 20}
""")
    code, text, outcomes = run(lab, settings)
    assert code == exit_codes.OK, text
    assert outcomes[0].attempts == 3 and "after 3 attempts" in text


def test_within_gives_up_at_the_deadline(tmp_path: Path, settings) -> None:
    lab = make_lab(tmp_path, "  - {name: never, run: 'false', expect: {within: 1}}\n")
    code, text, outcomes = run(lab, settings)
    assert code == exit_codes.FAILED and outcomes[0].attempts >= 2
    assert "still unmet" in text


@pytest.mark.parametrize("command", ["sleep 30", "sleep 30 | cat", "(sleep 30 &) ; sleep 30"])
def test_a_hanging_step_is_killed_at_its_timeout(tmp_path: Path, settings, command: str) -> None:
    lab = make_lab(tmp_path, f"  - {{name: hang, run: '{command}', timeout: 0.5}}\n")
    code, text, outcomes = run(lab, settings)
    assert code == exit_codes.FAILED and outcomes[0].exit_code == 124
    assert outcomes[0].seconds < 10 and "killed after 0.5 s" in text


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def test_http_expectation_expands_dojo_variables(tmp_path: Path, http_port: int) -> None:
    settings = load_settings(home=tmp_path / "home", mlflow_port=http_port)
    lab = make_lab(tmp_path, """
  - {name: up, run: 'true', expect: {http: {url: '${DOJO_TRACKING_URI}/health'}}}
  - {name: missing, run: 'true', expect: {http: {url: '${DOJO_TRACKING_URI}/nope', status: 200}}}
""")
    code, text, outcomes = run(lab, settings)
    assert code == exit_codes.FAILED and len(outcomes) == 2
    assert f"http://127.0.0.1:{http_port}/nope to answer 200, saw 404" in text


def test_planned_lab_is_not_built(tmp_path: Path, settings) -> None:
    lab = make_lab(tmp_path, "  []\n", status="planned")
    code, _, _ = run(lab, settings)
    assert code == exit_codes.NOT_BUILT


def test_missing_docker_is_exit_3_with_an_install_line(tmp_path: Path, settings,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    lab = make_lab(tmp_path, "  - {name: s, run: 'true'}\n", needs="[docker]")
    out = io.StringIO()
    report = LabRunner(settings, Console(file=out), cwd=lab.path).run(lab)
    assert report.exit_code == exit_codes.MISSING_PREREQUISITE
    assert "needs a Docker engine: install Docker Engine" in report.message


def test_stack_is_started_when_needed_and_its_failure_reported(tmp_path: Path, settings) -> None:
    lab = make_lab(tmp_path, "  - {name: s, run: touch ran}\n", needs="[stack]")
    calls: list[str] = []

    def broken(_settings: Settings, _console: Console) -> str:
        calls.append("up")
        return "port 9092 (broker) is taken by pid 1 (init)"

    report = LabRunner(settings, Console(file=io.StringIO()), cwd=lab.path,
                       start_stack=broken).run(lab)
    assert calls == ["up"] and report.exit_code == exit_codes.FAILED
    # the learner is told why, and where to look; no step ran against a half-started stack
    assert "the local stack did not start: port 9092 (broker) is taken" in report.message
    assert "dojo doctor" in report.message and str(settings.logs_dir) in report.message
    assert report.outcomes == [] and not (lab.path / "ran").exists()
    assert progress(settings) == {}


def test_interactive_pauses_between_steps_and_q_stops(tmp_path: Path, settings) -> None:
    lab = make_lab(tmp_path, "  - {name: a, run: 'true'}\n  - {name: b, run: touch ran}\n")
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return "q"

    code, _, outcomes = run(lab, settings, interactive=True, ask=ask)
    assert code == exit_codes.INTERRUPTED and len(outcomes) == 1 and len(prompts) == 1
    assert not (lab.path / "ran").exists()


# --- the CLI surface ------------------------------------------------------------------------
def test_cli_run_list_and_show(tmp_path: Path, isolated_env: Settings) -> None:
    make_lab(tmp_path, "  - {name: greet, run: echo hello}\n")
    labs = str(tmp_path / "labs")
    runner = CliRunner()
    result = runner.invoke(app, ["run", "1", "--labs-dir", labs])
    assert result.exit_code == 0, result.output
    assert "lab 01 passed" in result.output
    listed = runner.invoke(app, ["list", "--labs-dir", labs])
    assert listed.exit_code == 0 and "Fixture" in listed.output and "ready" in listed.output
    shown = runner.invoke(app, ["show", "01", "--labs-dir", labs])
    assert shown.exit_code == 0 and "$ echo hello" in shown.output
    missing = runner.invoke(app, ["run", "09", "--labs-dir", labs])
    assert missing.exit_code == exit_codes.BAD_INPUT and "no lab 09" in missing.output
