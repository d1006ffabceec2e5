"""Lab 10's load generator: its payloads are valid requests and its summary counts right."""

from __future__ import annotations

from dojo.contracts import Transaction
from dojo.serving.load_generator import LoadResult, main, payloads


def test_payloads_are_transactions_the_api_accepts() -> None:
    bodies = payloads(50, seed=3)
    assert len(bodies) == 50
    assert all(Transaction.model_validate(body) for body in bodies)
    assert len({body["transaction_id"] for body in bodies}) == 50
    ids = [body["transaction_id"] for body in payloads(5, seed=3)]
    assert ids == [body["transaction_id"] for body in payloads(5, seed=3)]  # same seed, same ids


def test_summary_counts_answers_failures_and_percentiles() -> None:
    result = LoadResult()
    for i in range(100):
        result.record("200", (i + 1) / 1000)  # 1..100 ms
    result.record("503", 0.5)
    result.record("ReadTimeout", 5.0)
    result.elapsed_s = 2.0
    assert (result.sent, result.ok) == (102, 100)
    summary = result.summary()
    assert summary.startswith("load: 102 requests in 2 s (51.0/s), 100 answered 200, ")
    assert "failed: 503: 1, ReadTimeout: 1" in summary
    assert "p50 50.5 ms, p99 99.0 ms" in summary


def test_bad_arguments_are_one_line_and_exit_2(capsys) -> None:
    assert main(["http://model-server:8000", "--rate", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --rate and --duration must be > 0 and --concurrency >= 1"]
