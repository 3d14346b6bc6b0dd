"""Configuration options of the runner and the queue they imply.

The runner reads murano.conf with Murano's own options and adds the
``[engine_runner]`` group defined here. ``list_opts()`` follows the
oslo.config convention, so oslo-config-generator and oslo-config-validator
can load these options through an entry point.
"""

import dataclasses

from oslo_config import cfg

GROUP = "engine_runner"

# Murano's engine and API use these names: murano.common.engine listens on
# Target('murano', 'tasks') and murano.common.rpc sends results to
# Target('murano', 'results').
TASKS_EXCHANGE = "murano"
TASKS_TOPIC = "tasks"

runner_opts = [
    cfg.IntOpt(
        "max_in_flight",
        default=4,
        min=1,
        help="Maximum number of tasks this process runs at once, each in its "
        "own green thread. It is also the AMQP prefetch count (basic.qos), so "
        "the broker never hands this process more unacknowledged tasks.",
    ),
    cfg.IntOpt(
        "max_message_bytes",
        default=8 * 1024 * 1024,
        min=1024,
        help="Maximum size in bytes of a task message body. A larger message "
        "is rejected without requeue, so a dead-letter exchange gets it.",
    ),
    cfg.IntOpt(
        "max_json_depth",
        default=100,
        min=4,
        max=900,
        help="Maximum nesting depth of JSON objects and arrays in a task "
        "message, checked before parsing. A deeper message is rejected "
        "without requeue. The maximum stays below Python's recursion limit.",
    ),
    cfg.IntOpt(
        "max_redeliveries",
        default=4,
        min=0,
        help="Number of redeliveries a task may have, read from the "
        "x-delivery-count header that RabbitMQ quorum queues set. A task "
        "delivered more often, for example because it made the engine exit "
        "each time, is dead-lettered by the runner with the reason. Keep it "
        "below the queue's delivery-limit (5 in the rabbitmq role), so the "
        "runner sees the last delivery and records why; at the limit the "
        "broker dead-letters the task itself, without a reason. 0 disables "
        "the check. Classic queues do not set the header, so the check does "
        "not apply.",
    ),
    cfg.StrOpt(
        "dead_letter_exchange",
        default="murano-dead-letter",
        help="Fanout exchange for tasks that cannot run, declared at every "
        "connect. It must match the dead-letter-exchange of the broker's "
        "policy on the tasks queue. The runner publishes the tasks it rejects "
        "there with the reason in the x-murano-reject-reason header, and the "
        "broker dead-letters tasks over the delivery limit there. Empty: the "
        "runner declares nothing and rejects without requeue.",
    ),
    cfg.StrOpt(
        "dead_letter_queue",
        default="tasks.dead-letter",
        help="Durable queue bound to dead_letter_exchange, declared at every "
        "connect, where dead-lettered tasks wait for an operator. It has the "
        "task queue's type (quorum or classic). Empty: no queue is declared.",
    ),
    cfg.FloatOpt(
        "drain_timeout",
        default=60.0,
        min=0.0,
        help="Seconds to wait, after SIGTERM or SIGINT, for tasks in hand to "
        "finish. Tasks still running then are returned to the queue. Keep it "
        "shorter than the unit's TimeoutStopSec.",
    ),
    cfg.FloatOpt(
        "reconnect_delay_min",
        default=1.0,
        min=0.1,
        help="Seconds to wait before the first reconnection attempt to the "
        "broker. Each failed attempt doubles the delay.",
    ),
    cfg.FloatOpt(
        "reconnect_delay_max",
        default=30.0,
        min=0.1,
        help="Maximum seconds between reconnection attempts to the broker.",
    ),
    cfg.IntOpt(
        "report_attempts",
        default=3,
        min=1,
        help="Number of attempts to report a result to murano-api "
        "(process_result on topic 'results'). If all fail, the task is "
        "returned to the queue and runs again.",
    ),
    cfg.FloatOpt(
        "poll_interval",
        default=0.2,
        min=0.01,
        max=5.0,
        help="Seconds the consumer loop waits for broker events before it "
        "settles finished tasks, checks heartbeats and pings the watchdog.",
    ),
]


def register_opts(conf):
    """Register the [engine_runner] options on an oslo.config object."""
    conf.register_opts(runner_opts, group=GROUP)


def list_opts():
    """Return the runner's options for oslo-config-generator."""
    return [(GROUP, runner_opts)]


@dataclasses.dataclass(frozen=True)
class QueueSpec:
    """Exchange, queue and binding as oslo.messaging declares them."""

    exchange: str
    queue: str
    routing_key: str
    durable: bool
    auto_delete: bool
    queue_arguments: dict
    consumer_arguments: dict | None
    exchange_type: str = "topic"


def _rabbit_option(rabbit_conf, *names, default=0):
    # oslo.messaging 14 spells two options "rabbit_quroum_..."; later releases
    # renamed them to "rabbit_quorum_...". Read whichever exists.
    for name in names:
        try:
            return getattr(rabbit_conf, name)
        except (cfg.NoSuchOptError, AttributeError):
            continue
    return default


def tasks_queue_spec(rabbit_conf):
    """Build the task queue's declaration from [oslo_messaging_rabbit].

    The result matches what oslo.messaging 14's rabbit driver declares for an
    RPC server on Target('murano', 'tasks') with the same configuration
    (Connection.declare_topic_consumer and _get_queue_arguments in
    oslo_messaging/_drivers/impl_rabbit.py). A mismatch would make the broker
    fail the second declaration with PRECONDITION_FAILED, so the stock engine
    and the runner can share the queue only when these agree.
    """
    quorum = rabbit_conf.rabbit_quorum_queue
    ha_queues = rabbit_conf.rabbit_ha_queues
    if quorum and ha_queues:
        raise ValueError(
            "invalid [oslo_messaging_rabbit]: rabbit_quorum_queue and "
            "rabbit_ha_queues are both enabled; enable at most one"
        )

    queue_arguments = {}
    if ha_queues:
        queue_arguments["x-ha-policy"] = "all"
    if quorum:
        queue_arguments["x-queue-type"] = "quorum"
        limits = {
            "x-delivery-limit": _rabbit_option(
                rabbit_conf, "rabbit_quorum_delivery_limit"
            ),
            "x-max-in-memory-length": _rabbit_option(
                rabbit_conf,
                "rabbit_quorum_max_memory_length",
                "rabbit_quroum_max_memory_length",
            ),
            "x-max-in-memory-bytes": _rabbit_option(
                rabbit_conf,
                "rabbit_quorum_max_memory_bytes",
                "rabbit_quroum_max_memory_bytes",
            ),
        }
        queue_arguments.update({key: value for key, value in limits.items() if value})

    consumer_arguments = None
    if rabbit_conf.enable_cancel_on_failover:
        consumer_arguments = {"x-cancel-on-ha-failover": True}

    # Quorum queues are always durable, and oslo.messaging forces durable
    # for them too.
    return QueueSpec(
        exchange=TASKS_EXCHANGE,
        queue=TASKS_TOPIC,
        routing_key=TASKS_TOPIC,
        durable=bool(rabbit_conf.amqp_durable_queues or quorum),
        auto_delete=bool(rabbit_conf.amqp_auto_delete),
        queue_arguments=queue_arguments,
        consumer_arguments=consumer_arguments,
    )


def dead_letter_spec(options, tasks_spec):
    """Build the dead-letter exchange and queue from [engine_runner].

    Returns None when dead_letter_exchange is empty. The queue field is empty
    when dead_letter_queue is. The exchange is a fanout, so it takes messages
    whatever their routing key: the broker dead-letters with the task's own
    key ("tasks"), because the role's policy sets no dead-letter-routing-key.
    """
    if not options.dead_letter_exchange:
        return None
    queue_arguments = {}
    if tasks_spec.queue_arguments.get("x-queue-type") == "quorum":
        queue_arguments["x-queue-type"] = "quorum"
    return QueueSpec(
        exchange=options.dead_letter_exchange,
        queue=options.dead_letter_queue or "",
        routing_key="",
        durable=True,
        auto_delete=False,
        queue_arguments=queue_arguments,
        consumer_arguments=None,
        exchange_type="fanout",
    )


def register_rabbit_opts(conf):
    """Register oslo.messaging's [oslo_messaging_rabbit] options.

    oslo.messaging registers them itself when it loads the rabbit driver.
    Registering the same option objects again is a no-op, so this is safe
    either way and lets the runner read them before any transport exists.
    """
    import oslo_messaging.opts

    for group, opts in oslo_messaging.opts.list_opts():
        if group == "oslo_messaging_rabbit":
            conf.register_opts(opts, group=group)
