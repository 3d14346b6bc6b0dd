import threading

import pytest

from murano_engine_tools.results import (
    ResultCollector,
    ResultEndpoint,
    engine_label,
    is_exception,
)

OK = {"action": {"result": None, "isException": False}}
FAILED = {"action": {"result": {"message": "boom"}, "isException": True}}


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_engine_label_from_runner_key():
    result = dict(OK, engine={"host": "e1", "instance": "3", "pid": 42})

    assert engine_label(result) == "e1/3"


@pytest.mark.parametrize(
    "result", [OK, dict(OK, engine=None), dict(OK, engine="e1"), None]
)
def test_engine_label_unknown(result):
    assert engine_label(result) == "unknown"


def test_is_exception():
    assert is_exception(FAILED)
    assert not is_exception(OK)
    assert is_exception({"model": {}})
    assert is_exception(None)


def test_collector_counts_first_results():
    collector = ResultCollector()
    collector.add_cast("a")
    collector.add_cast("b")
    collector.add_cast("c")

    collector.add_result("a", OK)
    collector.add_result("b", FAILED)

    assert collector.counts() == (3, 2, 1)
    assert collector.outstanding == 1


def test_collector_keeps_duplicates_once_counted():
    collector = ResultCollector()
    collector.add_cast("a")

    collector.add_result("a", FAILED)
    collector.add_result("a", OK)

    records, stray = collector.snapshot()
    assert collector.counts() == (1, 1, 1)
    assert len(records["a"].results) == 2
    assert stray == 0


def test_collector_counts_stray_results():
    collector = ResultCollector()
    collector.add_cast("a")

    collector.add_result("other", OK)

    records, stray = collector.snapshot()
    assert stray == 1
    assert records["a"].results == []
    assert collector.outstanding == 1


def test_collector_rejects_repeated_task_id():
    collector = ResultCollector()
    collector.add_cast("a")

    with pytest.raises(ValueError, match="task id a"):
        collector.add_cast("a")


def test_collector_remove_cast():
    collector = ResultCollector()
    collector.add_cast("a")

    collector.remove_cast("a")

    assert collector.counts() == (0, 0, 0)
    assert collector.snapshot() == ({}, 0)


def test_collector_records_times():
    clock = FakeClock()
    collector = ResultCollector(clock=clock)
    collector.add_cast("a")
    clock.now = 101.5

    collector.add_result("a", OK)

    record = collector.snapshot()[0]["a"]
    assert record.cast_at == 100.0
    assert record.first_result_at == 101.5


def test_snapshot_is_a_copy():
    collector = ResultCollector()
    collector.add_cast("a")
    records, _ = collector.snapshot()

    collector.add_result("a", OK)

    assert records["a"].results == []


def test_wait_for_times_out():
    collector = ResultCollector()
    collector.add_cast("a")

    assert not collector.wait_for(lambda c: c.outstanding == 0, 0.05)


def test_wait_for_wakes_on_result():
    collector = ResultCollector()
    collector.add_cast("a")
    timer = threading.Timer(0.05, collector.add_result, ("a", OK))
    timer.start()

    try:
        assert collector.wait_for(lambda c: c.outstanding == 0, 5.0)
    finally:
        timer.cancel()


def test_endpoint_records_by_environment_id():
    collector = ResultCollector()
    collector.add_cast("env-1")
    endpoint = ResultEndpoint(collector)

    assert endpoint.process_result({}, result=OK, environment_id="env-1") is None

    assert collector.counts() == (1, 1, 0)
