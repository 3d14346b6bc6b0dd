"""kombu objects for the broker: the connection and the task queue."""

import urllib.parse

import kombu

from murano_engine_tools.runner import config


def _broker_urls(transport_url):
    # oslo.messaging's "rabbit" transport is AMQP 0-9-1. Each host of the
    # transport URL becomes one kombu failover alternative.
    urls = []
    vhost = transport_url.virtual_host or ""
    for host in transport_url.hosts:
        user = urllib.parse.quote(host.username or "", safe="")
        password = urllib.parse.quote(host.password or "", safe="")
        hostname = host.hostname or "localhost"
        if ":" in hostname:
            hostname = f"[{hostname}]"
        port = host.port or 5672
        urls.append(f"amqp://{user}:{password}@{hostname}:{port}/{vhost}")
    if not urls:
        urls.append(f"amqp://guest:guest@localhost:5672/{vhost}")
    return urls


def _ssl_options(rabbit_conf):
    # Same mapping as oslo.messaging's Connection._fetch_ssl_params.
    if not rabbit_conf.ssl:
        return False
    import ssl

    options = {}
    if rabbit_conf.ssl_version:
        options["ssl_version"] = getattr(ssl, "PROTOCOL_" + rabbit_conf.ssl_version)
    if rabbit_conf.ssl_key_file:
        options["keyfile"] = rabbit_conf.ssl_key_file
    if rabbit_conf.ssl_cert_file:
        options["certfile"] = rabbit_conf.ssl_cert_file
    if rabbit_conf.ssl_ca_file:
        options["ca_certs"] = rabbit_conf.ssl_ca_file
        options["cert_reqs"] = ssl.CERT_REQUIRED
    return options or True


def connection_from_conf(conf):
    """Build an unconnected kombu Connection from transport_url and rabbit options.

    Credentials come from transport_url in murano.conf, as for murano-engine.
    """
    import oslo_messaging

    config.register_rabbit_opts(conf)
    transport_url = oslo_messaging.TransportURL.parse(conf)
    if transport_url.transport not in ("rabbit", "kombu", "amqp"):
        raise ValueError(
            f"transport {transport_url.transport!r} in transport_url is not "
            "supported; the runner speaks AMQP 0-9-1 to RabbitMQ (rabbit://)"
        )
    rabbit_conf = conf.oslo_messaging_rabbit
    return kombu.Connection(
        _broker_urls(transport_url),
        ssl=_ssl_options(rabbit_conf),
        login_method=rabbit_conf.rabbit_login_method,
        heartbeat=rabbit_conf.heartbeat_timeout_threshold,
        failover_strategy=rabbit_conf.kombu_failover_strategy,
        # Publisher confirms make each publish (a reply, a dead-lettered task)
        # wait until the broker has it, so the runner acknowledges a task it
        # dead-letters only after the copy is safe.
        transport_options={
            "client_properties": {"product": "murano-engine-runner"},
            "confirm_publish": True,
        },
    )


def describe(connection):
    """Return the broker address of a connection, without the password."""
    return connection.as_uri(include_password=False)


def make_queue(spec):
    """Return the kombu Queue, bound to its exchange, for a QueueSpec."""
    exchange = kombu.Exchange(
        spec.exchange,
        type=spec.exchange_type,
        durable=spec.durable,
        auto_delete=spec.auto_delete,
    )
    return kombu.Queue(
        spec.queue,
        exchange=exchange,
        routing_key=spec.routing_key,
        durable=spec.durable,
        auto_delete=spec.auto_delete,
        queue_arguments=spec.queue_arguments or None,
        consumer_arguments=spec.consumer_arguments,
    )


def declare_dead_letter(channel, spec):
    """Declare the dead-letter exchange and, if spec names one, its queue.

    Declarations are idempotent while the arguments match. A different
    existing declaration fails with PRECONDITION_FAILED, a channel error.
    """
    if not spec.queue:
        exchange = kombu.Exchange(
            spec.exchange, type=spec.exchange_type, durable=spec.durable
        )
        exchange(channel).declare()
        return
    make_queue(spec)(channel).declare()
