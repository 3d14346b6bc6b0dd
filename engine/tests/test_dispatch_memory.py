"""Run the client against a fake engine over kombu's in-memory transport.

The fake engine serves ``handle_task`` on the engine's target and returns
results with ``process_result`` calls, as murano 14's TaskProcessingEndpoint does.
"""

import threading
import time
import uuid
import warnings

import pytest

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import oslo_messaging  # noqa: E402

from murano_engine_tools import dispatch, submit  # noqa: E402
from murano_engine_tools.transport_url import TRANSPORT_URL_VARIABLE  # noqa: E402

MEMORY_URL = "kombu+memory:////"


class QuietProgress:
    def start(self):
        pass

    def update(self, cast, done, failed):
        pass

    def finish(self, cast, done, failed):
        pass


class FakeEngine:
    """Engine stand-in that runs no MuranoPL and returns results at once.

    ``results_for`` maps a task to an iterable of results to send, so a test
    can drop a task or send two results for it. A generator resumes after each result's
    call has returned.
    """

    def __init__(self, transport, results_for, delay=0.0):
        self._results_for = results_for
        self._delay = delay
        self._results = oslo_messaging.get_rpc_client(
            transport, oslo_messaging.Target("murano", "results"), timeout=15
        )
        self._lock = threading.Lock()
        self.tasks = []
        self.in_flight = 0
        self.max_in_flight = 0

    def handle_task(self, context, task):
        with self._lock:
            self.tasks.append(task)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        time.sleep(self._delay)

        sent_first = False
        for result in self._results_for(task):
            if not sent_first:
                # The client may cast the next task as soon as it records
                # this result, which is before the call below returns.
                sent_first = True
                with self._lock:
                    self.in_flight -= 1
            self._results.call(
                {}, "process_result", result=result, environment_id=task["id"]
            )


def succeed(task):
    engine = {"host": "fake", "instance": "1", "pid": 1}
    return [{"action": {"result": None, "isException": False}, "engine": engine}]


@pytest.fixture
def transport():
    rpc_transport = dispatch.open_transport(MEMORY_URL)
    yield rpc_transport
    rpc_transport.cleanup()


@pytest.fixture
def start_engine(transport):
    servers = []

    def start(results_for=succeed, delay=0.0):
        engine = FakeEngine(transport, results_for, delay)
        target = oslo_messaging.Target("murano", "tasks", server=str(uuid.uuid4()))
        server = oslo_messaging.get_rpc_server(transport, target, [engine])
        server.start()
        servers.append(server)
        return engine

    yield start
    for server in servers:
        server.stop()
        server.wait()


def build(count, workload="wait"):
    return submit.build_tasks(
        submit.build_parser().parse_args(
            ["--count", str(count), "--workload", workload]
        )
    )


def test_all_tasks_get_results(transport, start_engine):
    engine = start_engine()
    tasks = build(20)

    collector, wall_seconds = dispatch.cast_and_collect(
        transport, tasks, None, 30.0, QuietProgress()
    )

    assert collector.counts() == (20, 20, 0)
    assert wall_seconds < 30.0
    assert sorted(t["id"] for t in engine.tasks) == sorted(t["id"] for t in tasks)


def test_task_arrives_unchanged(transport, start_engine):
    engine = start_engine()
    tasks = build(1, "cpu")

    dispatch.cast_and_collect(transport, tasks, None, 30.0, QuietProgress())

    assert engine.tasks == tasks


def test_concurrency_limit_holds(transport, start_engine):
    engine = start_engine(delay=0.05)

    collector, _ = dispatch.cast_and_collect(
        transport, build(12), 2, 30.0, QuietProgress()
    )

    assert collector.counts() == (12, 12, 0)
    assert engine.max_in_flight == 2


def test_no_concurrency_limit_overlaps(transport, start_engine):
    engine = start_engine(delay=0.05)

    collector, _ = dispatch.cast_and_collect(
        transport, build(12), None, 30.0, QuietProgress()
    )

    assert collector.counts() == (12, 12, 0)
    assert engine.max_in_flight > 2


def test_task_without_result_times_out(transport, start_engine):
    dropped = []

    def drop_first(task):
        if not dropped:
            dropped.append(task["id"])
            return []
        return succeed(task)

    start_engine(drop_first)

    collector, wall_seconds = dispatch.cast_and_collect(
        transport, build(3), None, 1.0, QuietProgress()
    )

    records, _ = collector.snapshot()
    assert collector.counts() == (3, 2, 0)
    assert records[dropped[0]].results == []
    assert 1.0 <= wall_seconds < 5.0


def test_duplicate_results_recorded(transport, start_engine):
    duplicates_sent = threading.Event()
    first_task = []
    lock = threading.Lock()

    def results_twice_for_first(task):
        with lock:
            is_first = not first_task
            if is_first:
                first_task.append(task["id"])
        if is_first:
            yield from succeed(task) * 2
            duplicates_sent.set()
        else:
            duplicates_sent.wait(10.0)
            yield from succeed(task)

    start_engine(results_twice_for_first)

    collector, _ = dispatch.cast_and_collect(
        transport, build(2), None, 30.0, QuietProgress()
    )

    records, _ = collector.snapshot()
    counts = sorted(len(record.results) for record in records.values())
    assert counts == [1, 2]
    assert len(records[first_task[0]].results) == 2


def test_main_prints_summary(monkeypatch, capsys, start_engine, tmp_path):
    start_engine()
    monkeypatch.setenv(TRANSPORT_URL_VARIABLE, MEMORY_URL)
    figures = tmp_path / "figures.json"

    status = submit.main(["--count", "5", "--json", str(figures)])

    out = capsys.readouterr().out
    assert status == 0
    assert "tasks done:       5" in out
    assert "fake/1" in out
    assert figures.exists()


def test_main_fail_workload_expects_failures(monkeypatch, capsys, start_engine):
    def fail(task):
        return [{"action": {"result": {"message": "x"}, "isException": True}}]

    start_engine(fail)
    monkeypatch.setenv(TRANSPORT_URL_VARIABLE, MEMORY_URL)

    status = submit.main(["--count", "3", "--workload", "fail"])

    out = capsys.readouterr().out
    assert status == 0
    assert "failed:         3" in out
    assert "unknown" in out
