"""The one poll-until-deadline helper, driven by a fake clock: no real time passes."""

from __future__ import annotations

from dojo.runtime.waiting import wait_until


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_polls_with_doubling_pauses_until_done() -> None:
    time = FakeTime()
    answers = iter([False, False, False, True])
    waited = wait_until(lambda: next(answers), 60, first_pause_s=0.5, max_pause_s=1.5,
                        clock=time.clock, sleep=time.sleep)
    assert (waited.ok, waited.value, waited.attempts) == (True, True, 4)
    assert time.sleeps == [0.5, 1.0, 1.5]
    assert waited.seconds == 3.0


def test_the_last_pause_is_cut_so_the_final_probe_runs_at_the_deadline() -> None:
    time = FakeTime()
    probes: list[float] = []

    def probe() -> bool:
        probes.append(time.now)
        return False

    waited = wait_until(probe, 3.0, first_pause_s=2.0, max_pause_s=2.0,
                        clock=time.clock, sleep=time.sleep)
    assert not waited.ok and waited.attempts == 3
    assert time.sleeps == [2.0, 1.0]
    assert probes[-1] == 103.0  # at the deadline, not after it


def test_stop_ends_the_wait_early_without_success() -> None:
    time = FakeTime()
    values = iter(["starting", "crashed", "never asked"])
    waited = wait_until(lambda: next(values), 60, done=lambda v: v == "up",
                        stop=lambda v: v == "crashed", clock=time.clock, sleep=time.sleep)
    assert (waited.ok, waited.value, waited.attempts) == (False, "crashed", 2)


def test_a_ready_probe_is_asked_once_and_never_waits() -> None:
    time = FakeTime()
    waited = wait_until(lambda: {"state": "ok"}, 0.0, clock=time.clock, sleep=time.sleep)
    assert waited.ok and waited.attempts == 1 and time.sleeps == []
