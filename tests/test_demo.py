"""The demo's legend and conclusions, from hand-made runs (no servers, no load)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netlab import demo
from netlab.demo import ModelRun
from netlab.load import LoadResult


def run(model: str, req_per_s: float, cpu_per_10k: float = 0.1, threads: int = 2,
        rss: float = 18.0, errors: int = 0, opened: int = 50) -> ModelRun:
    """A 1-second run with these figures."""
    responses = int(req_per_s)
    result = LoadResult(
        duration=1.0, open_loop=False, target_rate=0.0, requests=responses + errors,
        responses=responses, errors=errors,
        errors_by_kind={"closed": errors} if errors else {}, error_messages={}, bytes_in=0,
        bytes_out=0, connections_opened=opened, latency_ms={"p50": 0.3, "p99": 0.6},
        latency_uncorrected_ms={"p50": 0.3, "p99": 0.6}, timeline=[], syscalls={},
        cpu_seconds=0.0)
    return ModelRun(model, result, cpu_per_10k * responses / 10_000, threads, rss)


def text(runs: list[ModelRun], connections: int = 50) -> str:
    return " ".join(demo.conclusions(runs, connections))


def test_leaders_within_noise_share_the_lead_and_select_close_to_epoll() -> None:
    runs = [run("epoll", 100_000, 0.06), run("threaded", 50_000, 0.12, threads=52, rss=40.0),
            run("select", 97_000, 0.061)]
    notes = text(runs)
    assert "epoll and select served the most req/s (100,000 and 97,000, within noise of each " \
           "other): 2.00x threaded." in notes
    assert "epoll and select used the least server CPU per 10k responses (0.060 s and 0.061 s, " \
           "within noise of each other); threaded used 2.00x as much." in notes
    assert "threaded ran 52 threads in 40.0 MiB (2.2x epoll's memory)" in notes
    assert "epoll ran 2 threads in" in notes
    assert "epoll ran 1 thread in" in text([run("epoll", 100_000, threads=1),
                                            run("threaded", 50_000, threads=52)])
    assert "select kept within 10% of epoll" in notes and "FD_SETSIZE (1024)" in notes
    assert "flagged" not in notes


def test_differences_under_ten_percent_are_noise() -> None:
    notes = text([run("epoll", 100_000, 0.060), run("select", 104_000, 0.062)])
    assert "req/s within 10% of each other, which is within this machine's noise" in notes
    assert "server CPU per response within 10%" in notes
    assert "served the most" not in notes


def test_a_clear_winner_and_select_well_behind_epoll() -> None:
    notes = text([run("epoll", 100_000, 0.05), run("select", 80_000, 0.06),
                  run("threaded", 50_000, 0.1)])
    assert "epoll served the most req/s (100,000): 2.00x threaded, 1.25x select." in notes
    assert "epoll used the least server CPU per 10k responses (0.050 s); threaded used 2.00x " \
           "as much, select used 1.20x as much." in notes
    assert "epoll served 1.25x select's req/s: each select() call copies and scans" in notes


def test_errors_and_missing_connections_are_flagged_and_never_win() -> None:
    runs = [run("epoll", 90_000, opened=1100), run("threaded", 50_000, opened=1000),
            run("select", 150_000, errors=75, opened=1100)]
    notes = text(runs, 1100)
    assert "select is flagged: 75 errors (closed 75)" in notes
    assert "threaded is flagged: only 1,000 of 1,100 connections" in notes
    assert "epoll served the most req/s" in notes  # not select, though it counted more
    assert "select (flagged)" in notes
    assert "cannot watch fds >= FD_SETSIZE (1024), so its server takes at most 900" in notes


def test_connections_never_answered_are_flagged() -> None:
    silent = run("threaded", 100_000)
    silent.result.never_answered, silent.result.unanswered = 40, 40
    notes = text([run("epoll", 90_000), silent])
    assert "threaded is flagged: 40 connections never answered; 40 requests unanswered" in notes
    assert "epoll served the most req/s (90,000): 0.90x threaded (flagged)." in notes


def test_summary_across_connection_counts() -> None:
    tables = [(50, [run("epoll", 100_000, threads=1), run("threaded", 60_000, threads=52),
                    run("select", 98_000)]),
              (1000, [run("epoll", 95_000, threads=1, opened=1000),
                      run("select", 93_000, opened=1000),
                      run("threaded", 52_000, threads=1002, errors=3, opened=1000)])]
    notes = demo.summary(tables)
    assert notes[0] == "Most req/s: epoll (with select within noise) at 50, epoll (with " \
                       "select within noise) at 1,000 connections."
    assert "threaded, 50 -> 1,000 connections: 60,000 -> 52,000 req/s, 52 -> 1,002 threads, " \
           "18.0 -> 18.0 MiB." in notes
    assert "epoll, 50 -> 1,000 connections: 100,000 -> 95,000 req/s, 1 -> 1 thread, " \
           "18.0 -> 18.0 MiB." in notes
    two = [(50, [run("epoll", 100_000), run("threaded", 97_000)])] * 2
    assert demo.summary(two)[0] == "Most req/s: no clear leader at 50, no clear leader at 50 " \
                                   "connections."
    assert notes[-1] == "Flagged (errors or missing connections): threaded at 1,000."


def test_out_file_has_the_legend_tables_and_conclusions(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    figures = {"epoll": 100_000, "threaded": 50_000}
    monkeypatch.setattr(demo, "run_model", lambda model, n, *_: run(model, figures[model],
                                                                    opened=n))
    out = tmp_path / "demo.md"
    assert demo.main(["epoll", "threaded"], [10, 50], 1.0, 64, 1, str(out)) == 0
    written = out.read_text()
    for part in ("srv CPU s/10k  server CPU seconds", "10 connections\nmodel", "50 connections",
                 "- epoll served the most req/s", "Overall\n- Most req/s: epoll at 10"):
        assert part in written
