"""Tests of the consumer loop on kombu's in-memory transport."""

import itertools
import json
import signal
import time
import types

import kombu
import pytest

from murano_engine_tools.runner import config, consumer, signals

_names = itertools.count()


def make_options(**overrides):
    options = {
        "max_in_flight": 4,
        "max_message_bytes": 1024 * 1024,
        "max_json_depth": 50,
        "max_redeliveries": 2,
        "drain_timeout": 0.2,
        "reconnect_delay_min": 0.01,
        "reconnect_delay_max": 0.02,
        "poll_interval": 0.01,
    }
    options.update(overrides)
    return types.SimpleNamespace(**options)


def make_spec():
    # The memory transport's state is global, so each test gets its own names.
    suffix = next(_names)
    return config.QueueSpec(
        exchange=f"murano-{suffix}",
        queue=f"tasks-{suffix}",
        routing_key="tasks",
        durable=False,
        auto_delete=False,
        queue_arguments={},
        consumer_arguments=None,
    )


def task_body(environment_id="env-1"):
    task = {
        "action": None,
        "model": {"project_id": "p", "user_id": "u"},
        "token": None,
        "project_id": "p",
        "user_id": "u",
        "id": environment_id,
    }
    message = {"method": "handle_task", "args": {"task": task}}
    return json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(message)})


class FakeNotifier:
    def __init__(self):
        self.events = []

    def ready(self, status):
        self.events.append(("READY", status))

    def status(self, status):
        self.events.append(("STATUS", status))

    def stopping(self, status):
        self.events.append(("STOPPING", status))

    def ping_watchdog(self):
        self.events.append(("WATCHDOG", None))


class StopAfter(signals.SignalRecorder):
    """A recorder that receives SIGTERM once the loop has ticked n times."""

    def __init__(self, ticks):
        super().__init__()
        self._ticks = ticks

    def pop_pending(self):
        self._ticks -= 1
        if self._ticks == 0:
            self.handle(signal.SIGTERM)
        return super().pop_pending()


def publish(spec, body, content_type="application/json", headers=None):
    with kombu.Connection("memory://") as connection:
        queue = consumer.broker.make_queue(spec)(connection.channel())
        queue.declare()
        connection.Producer().publish(
            body,
            exchange=spec.exchange,
            routing_key=spec.routing_key,
            content_type=content_type,
            content_encoding="utf-8",
            headers=headers or {},
        )


def queue_length(spec):
    with kombu.Connection("memory://") as connection:
        queue = consumer.broker.make_queue(spec)(connection.channel())
        return queue.queue_declare(passive=True).message_count


def make_dead_letter_spec():
    suffix = next(_names)
    return config.QueueSpec(
        exchange=f"murano-dead-letter-{suffix}",
        queue=f"tasks.dead-letter-{suffix}",
        routing_key="",
        durable=True,
        auto_delete=False,
        queue_arguments={},
        consumer_arguments=None,
        exchange_type="fanout",
    )


def get_dead_lettered(dead_letter_spec):
    """Return the message waiting in the dead-letter queue, or None."""
    with kombu.Connection("memory://") as connection:
        queue = consumer.broker.make_queue(dead_letter_spec)(connection.channel())
        message = queue.get(no_ack=True)
        return message


def run_consumer(
    spec,
    handler,
    ticks=30,
    options=None,
    spawn=None,
    factory=None,
    dead_letter_spec=None,
):
    notifier = FakeNotifier()
    task_consumer = consumer.TaskConsumer(
        options or make_options(),
        factory or (lambda: kombu.Connection("memory://")),
        spec,
        handler,
        notifier,
        StopAfter(ticks),
        spawn=spawn or consumer._synchronous_spawn,
        sleep=time.sleep,
        dead_letter_spec=dead_letter_spec,
    )
    code = task_consumer.run()
    return task_consumer, notifier, code


def test_task_acked_after_handler_returns():
    spec = make_spec()
    publish(spec, task_body("env-ack"))
    seen = []

    def handler(request):
        seen.append(request.environment_id)
        return consumer.Result(consumer.Outcome.ACK)

    task_consumer, notifier, code = run_consumer(spec, handler)

    assert code == 0
    assert seen == ["env-ack"]
    assert task_consumer.counters.done == 1
    assert queue_length(spec) == 0
    assert notifier.events[0][0] == "STATUS"
    assert any(kind == "READY" for kind, _ in notifier.events)
    assert notifier.events[-1][0] in {"STOPPING", "STATUS", "WATCHDOG"}
    assert "STOPPING" in {kind for kind, _ in notifier.events}


def test_requeue_outcome_returns_task():
    spec = make_spec()
    publish(spec, task_body())
    calls = []

    def handler(request):
        calls.append(request)
        return consumer.Result(consumer.Outcome.REQUEUE, "report failed")

    # One tick only: the message is handled, requeued and not taken again.
    task_consumer, _, _ = run_consumer(spec, handler, ticks=3)

    assert task_consumer.counters.requeued >= 1
    assert task_consumer.counters.done == 0


def test_dead_letter_outcome_removes_task():
    spec = make_spec()
    publish(spec, task_body())

    task_consumer, _, _ = run_consumer(
        spec, lambda request: consumer.Result(consumer.Outcome.DEAD_LETTER, "bad")
    )

    assert task_consumer.counters.failed == 1
    assert queue_length(spec) == 0


def test_handler_exception_dead_letters():
    spec = make_spec()
    publish(spec, task_body())

    def handler(request):
        raise RuntimeError("boom")

    task_consumer, _, code = run_consumer(spec, handler)

    assert code == 0
    assert task_consumer.counters.failed == 1
    assert queue_length(spec) == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ('{"method": "handle_task"}', "application/json"),
        ("[" * 200 + "]" * 200, "application/json"),
        ("x" * (2 * 1024 * 1024), "application/json"),
    ],
)
def test_malformed_message_rejected_without_handler(body, content_type):
    spec = make_spec()
    publish(spec, body, content_type)
    calls = []

    task_consumer, _, code = run_consumer(spec, calls.append)

    assert code == 0
    assert calls == []
    assert task_consumer.counters.rejected == 1
    assert queue_length(spec) == 0


def test_delivery_count_over_limit_rejected():
    spec = make_spec()
    publish(spec, task_body("env-crash"), headers={"x-delivery-count": 3})
    calls = []

    task_consumer, _, _ = run_consumer(spec, calls.append)

    assert calls == []
    assert task_consumer.counters.rejected == 1


def test_malformed_message_dead_lettered_with_reason():
    spec = make_spec()
    dead_letter_spec = make_dead_letter_spec()
    body = json.dumps(
        {"oslo.version": "2.0", "oslo.message": json.dumps({"method": 1})}
    )
    publish(spec, body)

    task_consumer, notifier, _ = run_consumer(
        spec, lambda request: None, dead_letter_spec=dead_letter_spec
    )

    assert task_consumer.counters.rejected == 1
    assert task_consumer.counters.dead_lettered == 1
    assert queue_length(spec) == 0
    message = get_dead_lettered(dead_letter_spec)
    assert message is not None, "nothing in the dead-letter queue"
    assert message.body == body.encode()
    assert "no method name" in message.headers[consumer.REASON_HEADER]
    assert "1 dead-lettered" in notifier.events[-1][1]


def test_over_limit_dead_lettered_with_count():
    spec = make_spec()
    dead_letter_spec = make_dead_letter_spec()
    publish(spec, task_body("env-loop"), headers={"x-delivery-count": 3})

    task_consumer, _, _ = run_consumer(
        spec, lambda request: None, dead_letter_spec=dead_letter_spec
    )

    message = get_dead_lettered(dead_letter_spec)
    assert message is not None, "nothing in the dead-letter queue"
    assert message.headers[consumer.ENVIRONMENT_HEADER] == "env-loop"
    assert message.headers[consumer.DELIVERY_COUNT_HEADER] == 3
    assert "max_redeliveries=2" in message.headers[consumer.REASON_HEADER]
    assert "x-delivery-count" not in message.headers


def test_failed_task_dead_lettered_with_reason():
    spec = make_spec()
    dead_letter_spec = make_dead_letter_spec()
    publish(spec, task_body("env-bad"))

    task_consumer, _, _ = run_consumer(
        spec,
        lambda request: consumer.Result(consumer.Outcome.DEAD_LETTER, "Murano raised"),
        dead_letter_spec=dead_letter_spec,
    )

    assert task_consumer.counters.failed == 1
    message = get_dead_lettered(dead_letter_spec)
    assert message is not None, "nothing in the dead-letter queue"
    assert message.headers[consumer.REASON_HEADER] == "Murano raised"
    assert message.headers[consumer.ENVIRONMENT_HEADER] == "env-bad"


def test_delivery_count_within_limit_runs():
    spec = make_spec()
    publish(spec, task_body(), headers={"x-delivery-count": 2})

    task_consumer, _, _ = run_consumer(
        spec, lambda request: consumer.Result(consumer.Outcome.ACK)
    )

    assert task_consumer.counters.done == 1


def test_drain_timeout_requeues_unfinished_task():
    spec = make_spec()
    publish(spec, task_body("env-slow"))

    # A spawn that never runs the handler leaves the task in hand.
    task_consumer, _, code = run_consumer(
        spec, None, spawn=lambda function, *args: None, ticks=5
    )

    assert code == 0
    assert task_consumer.counters.requeued == 1
    assert queue_length(spec) == 1


def test_unreachable_broker_backs_off_until_stopped():
    spec = make_spec()
    attempts = []

    def factory():
        attempts.append(1)
        return kombu.Connection("amqp://guest:guest@127.0.0.1:1//", connect_timeout=0.5)

    task_consumer, notifier, code = run_consumer(spec, None, ticks=6, factory=factory)

    assert code == 0
    assert len(attempts) >= 2
    assert not any(kind == "READY" for kind, _ in notifier.events)
    statuses = [text for kind, text in notifier.events if kind == "STATUS"]
    assert any("broker unreachable" in text for text in statuses)
    # The loop's periodic status keeps saying so until it stops.
    assert "broker unreachable" in statuses[-2]


def test_settle_on_closed_channel_counts_duplicate():
    task_consumer = consumer.TaskConsumer(
        make_options(), None, make_spec(), None, FakeNotifier(), StopAfter(0)
    )
    message = types.SimpleNamespace(delivery_tag=1)
    request = types.SimpleNamespace(method="handle_task", environment_id="env-x")
    delivery = consumer.Delivery(message, request, 0, 0.0, False, None)

    task_consumer._settle(delivery, consumer.Result(consumer.Outcome.ACK))

    assert task_consumer.counters.possible_duplicates == 1
    assert task_consumer.counters.done == 0


def test_delivery_count_header_parsing():
    def message(headers):
        return types.SimpleNamespace(headers=headers)

    assert consumer.delivery_count(message({"x-delivery-count": 4})) == 4
    assert consumer.delivery_count(message({})) is None
    assert consumer.delivery_count(message(None)) is None
    assert consumer.delivery_count(message({"x-delivery-count": "4"})) is None
    assert consumer.delivery_count(message({"x-delivery-count": True})) is None
