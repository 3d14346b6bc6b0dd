"""Collect the deploy results that engines return to the murano-api topic."""

import logging
import threading
import time
from dataclasses import dataclass, field

LOG = logging.getLogger(__name__)

UNKNOWN_ENGINE = "unknown"


def engine_label(result):
    """Return "host/instance" from the result's ``engine`` key, or "unknown".

    The runner adds ``engine``. The stock engine does not, so its results
    count as "unknown".
    """
    engine = result.get("engine") if isinstance(result, dict) else None
    if not isinstance(engine, dict):
        return UNKNOWN_ENGINE
    host = engine.get("host") or "?"
    instance = engine.get("instance") or "?"
    return f"{host}/{instance}"


def is_exception(result):
    """Return True when ``result`` reports a failed action.

    A result without an ``action`` mapping counts as failed, because
    murano-api could not read it either.
    """
    action = result.get("action") if isinstance(result, dict) else None
    if not isinstance(action, dict):
        return True
    return bool(action.get("isException"))


@dataclass
class TaskRecord:
    """One cast task: when it was cast and the results received for it."""

    cast_at: float
    results: list = field(default_factory=list)
    first_result_at: float | None = None


class ResultCollector:
    """Thread-safe record of cast tasks and their results.

    Results for task ids that this run did not cast, such as late results of
    an earlier run still queued on the shared ``results`` topic, are counted
    as stray and otherwise ignored.
    """

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        # Condition() uses a reentrant lock, so a wait_for() predicate may
        # read ``outstanding``.
        self._condition = threading.Condition()
        self._tasks = {}
        self._done = 0
        self._failed = 0
        self._stray = 0

    def add_cast(self, task_id):
        """Record that the task ``task_id`` was cast now."""
        with self._condition:
            if task_id in self._tasks:
                raise ValueError(f"task id {task_id} was already cast in this run")
            self._tasks[task_id] = TaskRecord(cast_at=self._clock())

    def add_result(self, task_id, result):
        """Record a result for ``task_id`` and wake threads waiting on results."""
        with self._condition:
            record = self._tasks.get(task_id)
            if record is None:
                self._stray += 1
                LOG.warning("Ignored a result for unknown task id %s", task_id)
                return

            record.results.append(result)
            if record.first_result_at is None:
                record.first_result_at = self._clock()
                self._done += 1
                if is_exception(result):
                    self._failed += 1
            else:
                LOG.warning(
                    "Received result number %d for task id %s",
                    len(record.results),
                    task_id,
                )
            self._condition.notify_all()

    def remove_cast(self, task_id):
        """Forget ``task_id`` after its cast failed, so it counts as not cast."""
        with self._condition:
            record = self._tasks.pop(task_id)
            if record.first_result_at is not None:
                self._done -= 1
                if is_exception(record.results[0]):
                    self._failed -= 1

    def counts(self):
        """Return the numbers of tasks cast, done (with a result) and failed."""
        with self._condition:
            return len(self._tasks), self._done, self._failed

    @property
    def outstanding(self):
        """Number of tasks cast and still without a result."""
        with self._condition:
            return len(self._tasks) - self._done

    def wait_for(self, predicate, timeout):
        """Wait at most ``timeout`` seconds until ``predicate(self)`` is true.

        Returns the predicate's last value. Results wake the waiting thread.
        """
        with self._condition:
            return self._condition.wait_for(lambda: predicate(self), timeout)

    def snapshot(self):
        """Return copies of the task records and the stray result count."""
        with self._condition:
            records = {
                task_id: TaskRecord(r.cast_at, list(r.results), r.first_result_at)
                for task_id, r in self._tasks.items()
            }
            return records, self._stray


class ResultEndpoint:
    """oslo.messaging endpoint with the method that engines call on murano-api.

    The engine calls ``process_result`` with a 15 s reply timeout (murano
    14.0.0, ``murano/common/rpc.py``), so the method only records the result.
    """

    def __init__(self, collector):
        self._collector = collector

    def process_result(self, context, result, environment_id):
        self._collector.add_result(environment_id, result)
