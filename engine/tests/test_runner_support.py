"""Tests of the runner's config, backoff, sd_notify, signals and identity."""

import logging
import os
import signal
import socket
import tempfile

import pytest
from oslo_config import cfg

from murano_engine_tools.runner import backoff, config, identity, notify, signals


@pytest.fixture
def conf():
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    config.register_rabbit_opts(conf)
    conf([], project="test")
    return conf


def test_list_opts_names_group():
    groups = dict(config.list_opts())

    names = {opt.name for opt in groups["engine_runner"]}
    assert {"max_in_flight", "max_message_bytes", "max_json_depth"} <= names
    assert all(opt.help for opt in groups["engine_runner"])


def test_runner_defaults(conf):
    assert conf.engine_runner.max_in_flight == 4
    assert conf.engine_runner.drain_timeout == 60.0


def test_queue_spec_classic_defaults(conf):
    spec = config.tasks_queue_spec(conf.oslo_messaging_rabbit)

    assert spec.exchange == "murano"
    assert spec.queue == "tasks"
    assert spec.routing_key == "tasks"
    assert spec.durable is False
    assert spec.auto_delete is False
    assert spec.queue_arguments == {}
    assert spec.consumer_arguments is None


def test_queue_spec_quorum(conf):
    conf.set_override("rabbit_quorum_queue", True, "oslo_messaging_rabbit")
    conf.set_override("rabbit_quorum_delivery_limit", 5, "oslo_messaging_rabbit")

    spec = config.tasks_queue_spec(conf.oslo_messaging_rabbit)

    assert spec.durable is True
    assert spec.queue_arguments == {"x-queue-type": "quorum", "x-delivery-limit": 5}


def test_dead_letter_spec_defaults(conf):
    conf.set_override("rabbit_quorum_queue", True, "oslo_messaging_rabbit")
    tasks_spec = config.tasks_queue_spec(conf.oslo_messaging_rabbit)

    spec = config.dead_letter_spec(conf.engine_runner, tasks_spec)

    assert spec.exchange == "murano-dead-letter"
    assert spec.exchange_type == "fanout"
    assert spec.queue == "tasks.dead-letter"
    assert spec.durable is True
    assert spec.queue_arguments == {"x-queue-type": "quorum"}


def test_dead_letter_spec_classic_queue(conf):
    tasks_spec = config.tasks_queue_spec(conf.oslo_messaging_rabbit)

    spec = config.dead_letter_spec(conf.engine_runner, tasks_spec)

    assert spec.queue_arguments == {}


def test_dead_letter_spec_disabled(conf):
    conf.set_override("dead_letter_exchange", "", "engine_runner")
    tasks_spec = config.tasks_queue_spec(conf.oslo_messaging_rabbit)

    assert config.dead_letter_spec(conf.engine_runner, tasks_spec) is None


def test_max_redeliveries_below_role_delivery_limit(conf):
    # The rabbitmq role's policy sets delivery-limit 5: the runner must see
    # the last delivery to record a reason.
    assert conf.engine_runner.max_redeliveries == 4


def test_queue_spec_matches_oslo_messaging(conf):
    from oslo_messaging._drivers import impl_rabbit

    rabbit = conf.oslo_messaging_rabbit
    conf.set_override("rabbit_quorum_queue", True, "oslo_messaging_rabbit")
    conf.set_override("rabbit_quorum_delivery_limit", 7, "oslo_messaging_rabbit")
    conf.set_override("enable_cancel_on_failover", True, "oslo_messaging_rabbit")
    expected = impl_rabbit.Consumer(
        exchange_name="murano",
        queue_name="tasks",
        routing_key="tasks",
        type="topic",
        durable=True,
        exchange_auto_delete=False,
        queue_auto_delete=False,
        callback=None,
        rabbit_quorum_queue=True,
        rabbit_quorum_queue_config=impl_rabbit.QuorumMemConfig(7, 0, 0),
    )

    spec = config.tasks_queue_spec(rabbit)

    # oslo.messaging 18 may add arguments that 14 does not send (such as
    # x-queue-type for classic queues), so compare the quorum ones.
    for key in ("x-queue-type", "x-delivery-limit"):
        assert spec.queue_arguments[key] == expected.queue_arguments[key]
    assert spec.consumer_arguments == {"x-cancel-on-ha-failover": True}


def test_queue_spec_rejects_ha_with_quorum(conf):
    conf.set_override("rabbit_quorum_queue", True, "oslo_messaging_rabbit")
    conf.set_override("rabbit_ha_queues", True, "oslo_messaging_rabbit")

    with pytest.raises(ValueError, match="enable at most one"):
        config.tasks_queue_spec(conf.oslo_messaging_rabbit)


@pytest.mark.parametrize(
    ("attempt", "delay"),
    [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (1000, 30.0)],
)
def test_backoff_delay_doubles_and_caps(attempt, delay):
    assert backoff.backoff_delay(attempt, 1.0, 30.0) == delay


def test_backoff_rejects_attempt_zero():
    with pytest.raises(ValueError):
        backoff.backoff_delay(0, 1.0, 30.0)


def test_jittered_stays_in_range():
    for _ in range(100):
        assert 5.0 <= backoff.jittered(10.0) <= 10.0


def test_notify_address_abstract():
    assert notify.notify_address("@sd/notify") == "\0sd/notify"
    assert notify.notify_address("/run/systemd/notify") == "/run/systemd/notify"


def test_format_state_rejects_newline():
    with pytest.raises(ValueError):
        notify.format_state({"STATUS": "a\nb"})


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "10000000"}, 10.0),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "42"}, 10.0),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "43"}, None),
        ({"WATCHDOG_USEC": "junk"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
    ],
)
def test_watchdog_interval(environ, expected):
    assert notify.watchdog_interval(environ, pid=42) == expected


def receive_all(sock):
    datagrams = []
    sock.setblocking(False)
    while True:
        try:
            datagrams.append(sock.recv(4096).decode())
        except BlockingIOError:
            return datagrams


def test_notifier_sends_to_path_socket():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "notify")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        server.bind(path)
        clock = iter([0.0, 1.0, 6.0]).__next__
        notifier = notify.Notifier(
            {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000"}, clock=clock
        )

        notifier.ready("consuming")
        notifier.status("consuming")
        notifier.status("1 done")
        notifier.ping_watchdog()
        notifier.ping_watchdog()
        notifier.ping_watchdog()
        notifier.stopping("stopping")
        notifier.close()

        assert receive_all(server) == [
            "READY=1\nSTATUS=consuming",
            "STATUS=1 done",
            "WATCHDOG=1",
            "WATCHDOG=1",
            "STOPPING=1\nSTATUS=stopping",
        ]
        server.close()


def test_notifier_sends_to_abstract_socket():
    name = f"runner-test-{os.getpid()}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind("\0" + name)
    notifier = notify.Notifier({"NOTIFY_SOCKET": "@" + name})

    assert notifier.send(READY=1)
    assert receive_all(server) == ["READY=1"]
    notifier.close()
    server.close()


def test_notifier_without_socket_is_noop():
    notifier = notify.Notifier({})

    assert not notifier.enabled
    assert not notifier.send(READY=1)


def test_notifier_survives_missing_socket(tmp_path):
    notifier = notify.Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})

    assert not notifier.send(READY=1)


def test_signal_recorder_stop_and_others():
    recorder = signals.SignalRecorder()

    recorder.handle(signal.SIGHUP)
    assert not recorder.stop_requested
    recorder.handle(signal.SIGTERM)

    assert recorder.stop_requested
    assert recorder.pop_pending() == [signal.SIGHUP, signal.SIGTERM]
    assert recorder.pop_pending() == []


def test_signal_recorder_installs_handlers():
    recorder = signals.SignalRecorder()
    recorder.install([signal.SIGUSR2])
    try:
        os.kill(os.getpid(), signal.SIGUSR2)
        assert recorder.pop_pending() == [signal.SIGUSR2]
    finally:
        recorder.restore()
    assert signal.getsignal(signal.SIGUSR2) is not recorder.handle


def test_engine_info_uses_instance_env():
    info = identity.engine_info({"MURANO_ENGINE_INSTANCE": "3"})

    assert info["instance"] == "3"
    assert info["pid"] == os.getpid()
    assert info["host"] == socket.gethostname()


def test_instance_filter_sets_instance():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    named = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    named.instance = {"uuid": "vm"}

    instance_filter = identity.InstanceFilter("murano-engine@2")

    assert instance_filter.filter(record)
    assert record.instance == {"uuid": "murano-engine@2"}
    assert instance_filter.filter(named)
    assert named.instance == {"uuid": "vm"}
