import pytest

from murano_engine_tools.results import TaskRecord
from murano_engine_tools.summary import (
    Summary,
    exit_status,
    format_summary,
    latency_figures,
    summarize,
)

OK = {"action": {"isException": False}}
FAILED = {"action": {"isException": True}}


def with_engine(result, host, instance):
    return dict(result, engine={"host": host, "instance": instance, "pid": 1})


def make_records():
    return {
        "ok": TaskRecord(0.0, [with_engine(OK, "e1", "1")], 1.0),
        "failed": TaskRecord(0.0, [with_engine(FAILED, "e1", "2")], 2.0),
        "twice": TaskRecord(0.0, [OK, with_engine(OK, "e1", "1")], 3.0),
        "missing": TaskRecord(0.0),
    }


def make_summary(**changes):
    figures = {
        "requested": 1,
        "cast": 1,
        "done": 1,
        "succeeded": 1,
        "failed": 0,
        "missing": 0,
        "not_cast": 0,
        "duplicates": 0,
        "stray": 0,
        "wall_seconds": 1.0,
        "throughput": 1.0,
    }
    figures.update(changes)
    return Summary(**figures)


def test_summarize_counts():
    summary = summarize(make_records(), stray=2, requested=5, wall_seconds=2.0)

    assert summary.requested == 5
    assert summary.cast == 4
    assert summary.done == 3
    assert summary.succeeded == 2
    assert summary.failed == 1
    assert summary.missing == 1
    assert summary.not_cast == 1
    assert summary.duplicates == 1
    assert summary.stray == 2


def test_summarize_throughput():
    summary = summarize(make_records(), stray=0, requested=4, wall_seconds=2.0)

    assert summary.wall_seconds == 2.0
    assert summary.throughput == 1.5


def test_summarize_zero_wall_time():
    summary = summarize({}, stray=0, requested=0, wall_seconds=0.0)

    assert summary.throughput == 0.0
    assert summary.latency == {}


def test_summarize_counts_every_result_by_engine():
    summary = summarize(make_records(), stray=0, requested=4, wall_seconds=1.0)

    assert summary.results_by_engine == {"e1/1": 2, "e1/2": 1, "unknown": 1}


def test_first_result_decides_failure():
    records = {"a": TaskRecord(0.0, [FAILED, OK], 1.0)}

    summary = summarize(records, stray=0, requested=1, wall_seconds=1.0)

    assert summary.failed == 1
    assert summary.succeeded == 0


def test_latency_figures():
    figures = latency_figures([float(n) for n in range(1, 21)])

    assert figures == {"min": 1.0, "median": 10.5, "p95": 19.0, "max": 20.0}


def test_latency_single_value():
    assert latency_figures([0.5]) == {
        "min": 0.5,
        "median": 0.5,
        "p95": 0.5,
        "max": 0.5,
    }


@pytest.mark.parametrize(
    ("changes", "workload", "status"),
    [
        ({}, "wait", 0),
        ({"failed": 1, "succeeded": 0}, "wait", 1),
        ({"missing": 1}, "wait", 1),
        ({"not_cast": 1}, "cpu", 1),
        ({"failed": 1, "succeeded": 0}, "fail", 0),
        ({}, "fail", 1),
        ({"failed": 1, "succeeded": 0, "missing": 1}, "fail", 1),
        ({"duplicates": 1}, "wait", 0),
    ],
)
def test_exit_status(changes, workload, status):
    assert exit_status(make_summary(**changes), workload) == status


def test_format_summary_lists_figures():
    summary = summarize(make_records(), stray=0, requested=4, wall_seconds=2.0)

    text = format_summary(summary)

    assert "tasks done:       3" in text
    assert "failed:         1" in text
    assert "missing:          1" in text
    assert "duplicates:       1" in text
    assert "wall time:        2.00 s" in text
    assert "throughput:       1.50 tasks/s" in text
    assert "e1/1" in text
    assert "unknown" in text


def test_format_summary_without_results():
    text = format_summary(make_summary(done=0, succeeded=0))

    assert "(no results)" in text
    assert "latency" not in text


def test_summary_to_dict_is_plain():
    document = make_summary().to_dict()

    assert document["done"] == 1
    assert document["results_by_engine"] == {}
