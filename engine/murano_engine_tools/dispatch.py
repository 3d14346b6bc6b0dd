"""Cast deploy tasks to engines and wait for their results, as murano-api does.

Source of the targets and method names: murano 14.0.0,
``murano/common/rpc.py`` (EngineClient casts ``handle_task`` on
Target('murano', 'tasks')) and ``murano/common/server.py`` (murano-api serves
``process_result`` on Target('murano', 'results', server=<uuid>)).
"""

import logging
import os
import tempfile
import time
import uuid

import amqp.exceptions
import kombu.exceptions
import oslo_messaging
from oslo_config import cfg
from oslo_messaging.rpc import dispatcher

from murano_engine_tools.results import ResultCollector, ResultEndpoint
from murano_engine_tools.transport_url import (
    TRANSPORT_URL_VARIABLE,
    ConfigurationError,
    kombu_url,
    mask_url,
)

LOG = logging.getLogger(__name__)

EXCHANGE = "murano"
TASKS_TOPIC = "tasks"
RESULTS_TOPIC = "results"

# Reply timeout of murano-api's EngineClient. A cast waits for no reply, so
# it matters only for the connection.
CLIENT_TIMEOUT = 15

# Connection retries per cast. murano-api retries forever, but a bounded
# retry lets a run with a wrong URL or password end with an error.
CAST_RETRIES = 3

# Seconds between progress updates while the run waits for results.
PROGRESS_TICK = 0.5

# A topic that no server consumes, so the broker drops the connection check.
PROBE_TOPIC = "murano-engine-submit-probe"

# oslo.messaging's rabbit driver passes py-amqp and kombu errors through, for
# example AccessRefused for a wrong password and OperationalError after the
# last retry to an unreachable broker.
BROKER_ERRORS = (
    oslo_messaging.MessagingException,
    amqp.exceptions.AMQPError,
    kombu.exceptions.KombuError,
)


class BrokerError(Exception):
    """The broker rejected or did not accept a connection or a message."""


def check_broker(transport):
    """Cast one message to an unconsumed topic to check URL and credentials.

    oslo.messaging's RPC server retries a failed connection forever, so the
    check runs first, with bounded retries. Raises BrokerError.
    """
    client = oslo_messaging.get_rpc_client(
        transport,
        oslo_messaging.Target(exchange=EXCHANGE, topic=PROBE_TOPIC),
        retry=CAST_RETRIES,
    )
    try:
        client.cast({}, "probe")
    except BROKER_ERRORS as e:
        raise BrokerError(f"connection check failed: {type(e).__name__}: {e}") from e


def open_transport(url, quorum_queues=True):
    """Return an oslo.messaging RPC transport for ``url``.

    The transport uses the global ``cfg.CONF``. oslo.messaging 18.3 registers
    its tracing options only on ``cfg.CONF``, so a private ``ConfigOpts``
    fails on the first call or cast. ``quorum_queues`` sets
    ``[oslo_messaging_rabbit] rabbit_quorum_queue``, which must match the
    engines' setting: with it, oslo.messaging declares the ``murano``
    exchange durable, and RabbitMQ rejects a declaration that differs.
    Raises ConfigurationError for an invalid URL.
    """
    # The rabbit driver registers its options only when it loads, so the
    # setting goes in through a configuration file that oslo.config reads
    # for options registered later.
    with tempfile.NamedTemporaryFile(
        "w", prefix="murano-engine-submit-", suffix=".conf", delete=False
    ) as stream:
        stream.write(
            "[oslo_messaging_rabbit]\n"
            f"rabbit_quorum_queue = {str(bool(quorum_queues)).lower()}\n"
        )
    try:
        cfg.CONF(
            [],
            project="murano-engine-submit",
            default_config_files=[stream.name],
            default_config_dirs=[],
        )
    finally:
        os.unlink(stream.name)
    try:
        return oslo_messaging.get_rpc_transport(cfg.CONF, url=url)
    except (
        oslo_messaging.InvalidTransportURL,
        oslo_messaging.DriverLoadFailure,
        # oslo.utils raises it for a port that is not a number.
        ValueError,
    ) as e:
        raise ConfigurationError(
            f"invalid transport URL {mask_url(url)} in {TRANSPORT_URL_VARIABLE}: "
            f"{type(e).__name__}. Use rabbit://USER:PASSWORD@HOST:PORT//VHOST"
        ) from e


def new_server_name():
    """Return a result server name for one run, unique on the broker."""
    return f"murano-engine-submit-{uuid.uuid4()}"


def start_result_server(transport, collector, server_name=None):
    """Start and return an RPC server that records results in ``collector``.

    NOTE: every server on the ``results`` topic of one vhost shares a queue,
    so a murano-api or a second run on the same vhost takes part of the
    results, and they count as missing here.
    """
    target = oslo_messaging.Target(
        exchange=EXCHANGE,
        topic=RESULTS_TOPIC,
        server=server_name or new_server_name(),
    )
    server = oslo_messaging.get_rpc_server(
        transport,
        target,
        [ResultEndpoint(collector)],
        access_policy=dispatcher.DefaultRPCAccessPolicy,
    )
    server.start()
    LOG.info("Started result server on exchange %s topic %s", EXCHANGE, RESULTS_TOPIC)
    return server


def stop_result_server(server):
    server.stop()
    server.wait()
    LOG.info("Stopped result server")


def delete_result_queue(url, server_name):
    """Delete the result server's own queue, results.<server_name>.

    With quorum queues oslo.messaging declares that queue durable, so the
    broker keeps it, unused, after the run. A failure is logged, not raised,
    because the run's results are already in.
    """
    import kombu

    broker_url = kombu_url(url)
    if broker_url is None:
        return
    queue = f"{RESULTS_TOPIC}.{server_name}"
    try:
        with kombu.Connection(broker_url, connect_timeout=10) as connection:
            # RabbitMQ 3.10 rejects if-unused on a quorum queue with
            # NOT_IMPLEMENTED. The server stopped consuming before this.
            connection.channel().queue_delete(queue)
    except (*BROKER_ERRORS, OSError) as e:
        LOG.warning(
            "Failed to delete queue %s on %s: %s: %s",
            queue,
            mask_url(url),
            type(e).__name__,
            e,
        )
        return
    LOG.info("Deleted queue %s", queue)


def _slot_free(concurrency):
    if concurrency is None:
        return lambda collector: True
    return lambda collector: collector.outstanding < concurrency


def _all_done(collector):
    return collector.outstanding == 0


def _wait_with_progress(collector, predicate, deadline, progress, clock):
    """Wait until ``predicate`` is true or ``deadline`` passes, updating progress.

    Returns False on timeout.
    """
    while True:
        remaining = deadline - clock()
        if collector.wait_for(predicate, max(0.0, min(remaining, PROGRESS_TICK))):
            return True
        progress.update(*collector.counts())
        if remaining <= 0:
            return False


def cast_and_collect(
    transport,
    tasks,
    concurrency,
    timeout,
    progress,
    clock=time.monotonic,
    server_name=None,
):
    """Cast ``tasks`` and collect results until every task has one or time runs out.

    ``concurrency`` limits the tasks cast and still without a result (None
    for no limit). ``timeout`` is the overall limit in seconds, counted from the
    first cast. ``server_name`` names the result server (default: a new
    name). Returns the collector and the wall time in seconds.
    Raises BrokerError when the broker rejects or cannot take a cast.
    """
    check_broker(transport)
    collector = ResultCollector(clock=clock)
    try:
        server = start_result_server(transport, collector, server_name)
    except BROKER_ERRORS as e:
        raise BrokerError(f"result server failed: {type(e).__name__}: {e}") from e

    client = oslo_messaging.get_rpc_client(
        transport,
        oslo_messaging.Target(exchange=EXCHANGE, topic=TASKS_TOPIC),
        timeout=CLIENT_TIMEOUT,
        retry=CAST_RETRIES,
    )

    started = clock()
    deadline = started + timeout
    progress.start()
    slot_free = _slot_free(concurrency)
    try:
        for task in tasks:
            if not _wait_with_progress(collector, slot_free, deadline, progress, clock):
                LOG.warning("Timed out after %.1f s while casting tasks", timeout)
                break

            collector.add_cast(task["id"])
            try:
                client.cast({}, "handle_task", task=task)
            except BROKER_ERRORS as e:
                collector.remove_cast(task["id"])
                raise BrokerError(
                    f"cast of task {task['id']} failed: {type(e).__name__}: {e}"
                ) from e
            LOG.debug("Cast task %s", task["id"])
            progress.update(*collector.counts())

        if not _wait_with_progress(collector, _all_done, deadline, progress, clock):
            LOG.warning(
                "Timed out after %.1f s with %d tasks still without a result",
                timeout,
                collector.outstanding,
            )
        wall_seconds = clock() - started
        progress.finish(*collector.counts())
    finally:
        stop_result_server(server)

    return collector, wall_seconds
