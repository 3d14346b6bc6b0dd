"""Entry point: python3 -m murano_engine_tools.runner --config-file FILE ..."""

import sys


def _monkey_patch():
    # Murano is eventlet-based, and murano.cmd monkey-patches the standard
    # library through this module before anything else is imported. The
    # runner does the same, so sockets, locks and sleeps yield to other
    # green threads.
    import murano.monkey_patch  # noqa: F401


def main(argv=None):
    """Run one engine process until SIGTERM or SIGINT; return the exit code."""
    _monkey_patch()

    import eventlet
    from murano.common import config as murano_config
    from oslo_log import log as logging

    from murano_engine_tools.runner import (
        broker,
        config,
        consumer,
        identity,
        notify,
        signals,
        tasks,
    )

    conf = murano_config.CONF
    config.register_opts(conf)
    config.register_rabbit_opts(conf)
    murano_config.parse_args(sys.argv[1:] if argv is None else argv)
    logging.setup(conf, "murano")

    instance = identity.instance_name()
    identity.add_instance_filter(f"murano-engine@{instance}")
    log = logging.getLogger("murano_engine_tools.runner")

    options = conf.engine_runner
    if options.reconnect_delay_min > options.reconnect_delay_max:
        log.error(
            "Invalid [engine_runner]: reconnect_delay_min=%s is greater than "
            "reconnect_delay_max=%s; set the minimum to at most the maximum",
            options.reconnect_delay_min,
            options.reconnect_delay_max,
        )
        return 2
    try:
        queue_spec = config.tasks_queue_spec(conf.oslo_messaging_rabbit)
        broker.connection_from_conf(conf)
    except ValueError as exc:
        log.error("Invalid configuration: %s", exc)
        return 2

    recorder = signals.SignalRecorder()
    recorder.install()
    notifier = notify.Notifier()
    pool = eventlet.GreenPool(options.max_in_flight)
    handler = tasks.MuranoHandler(
        identity.engine_info(), options.report_attempts, sleep=eventlet.sleep
    )
    task_consumer = consumer.TaskConsumer(
        options,
        lambda: broker.connection_from_conf(conf),
        queue_spec,
        handler,
        notifier,
        recorder,
        spawn=pool.spawn,
        sleep=eventlet.sleep,
        dead_letter_spec=config.dead_letter_spec(options, queue_spec),
    )

    log.info(
        "Starting the task runner, pid %d, watchdog %s",
        identity.engine_info()["pid"],
        f"{notifier.watchdog_timeout:.1f} s" if notifier.watchdog_timeout else "off",
    )
    try:
        code = task_consumer.run()
    finally:
        notifier.close()
    log.info("Exiting with status %d", code)
    return code


if __name__ == "__main__":
    sys.exit(main())
