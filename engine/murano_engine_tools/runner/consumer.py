"""The consumer loop: take tasks, run them, acknowledge them when done.

Acknowledgement points. A task is acknowledged only after its handler has
returned, which for handle_task means Murano ran it and process_result
returned. So a process that dies holding a task leaves it unacknowledged, and
the broker redelivers it when the connection closes (AMQP 0-9-1 semantics,
done by the broker). Malformed messages are dead-lettered at once: with a
dead-letter exchange configured ([engine_runner] dead_letter_exchange), the
runner publishes a copy there with the reason in a header and then
acknowledges the original. Without one it rejects the message without
requeue, and the broker dead-letters it by policy or drops it.

All AMQP I/O happens in the thread that calls run(). Handlers run in green
threads and put their results on a deque, which the loop settles between
waits for broker events, because a kombu channel must not be written from
two green threads at once.
"""

import collections
import contextlib
import dataclasses
import enum
import logging
import time

import kombu

from murano_engine_tools.runner import backoff, broker, envelope, signals

LOG = logging.getLogger(__name__)


# Headers of a task that the runner dead-letters itself. RabbitMQ adds its
# own x-death header only to messages that the broker dead-letters.
REASON_HEADER = "x-murano-reject-reason"
ENVIRONMENT_HEADER = "x-murano-environment-id"
DELIVERY_COUNT_HEADER = "x-murano-delivery-count"
# Maximum length of the reason in the header; the log has the full text.
MAX_REASON_CHARS = 2000


class Outcome(enum.Enum):
    ACK = "ack"
    # Published to the dead-letter exchange and acknowledged, or without a
    # dead-letter exchange basic.reject requeue=False.
    DEAD_LETTER = "dead-letter"
    # basic.reject requeue=True: the broker delivers it again.
    REQUEUE = "requeue"


@dataclasses.dataclass
class Result:
    """Decision of a handler about one request."""

    outcome: Outcome
    reason: str = ""
    # For an RPC call, the reply envelope to publish before acknowledging.
    reply: dict | None = None


@dataclasses.dataclass
class Delivery:
    """A task in hand: the message, its parsed request, the channel it came on."""

    message: object
    request: envelope.RpcRequest
    generation: int
    started: float
    redelivered: bool
    delivery_count: int | None
    green_thread: object = None

    @property
    def key(self):
        return (self.generation, self.message.delivery_tag)

    @property
    def environment(self):
        return self.request.environment_id or "-"


@dataclasses.dataclass
class Counters:
    done: int = 0
    failed: int = 0
    rejected: int = 0
    requeued: int = 0
    reconnects: int = 0
    possible_duplicates: int = 0
    dead_lettered: int = 0


def delivery_count(message):
    """Return the x-delivery-count header, or None if absent or invalid.

    RabbitMQ quorum queues set it on redeliveries (RabbitMQ 3.10). Classic
    queues never set it and only set the redelivered flag.
    """
    headers = getattr(message, "headers", None) or {}
    value = headers.get("x-delivery-count")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _synchronous_spawn(function, *args):
    function(*args)


class TaskConsumer:
    """Consumer of the task queue with manual acknowledgements."""

    def __init__(
        self,
        options,
        connection_factory,
        queue_spec,
        handler,
        notifier,
        signal_recorder,
        spawn=_synchronous_spawn,
        sleep=time.sleep,
        clock=time.monotonic,
        dead_letter_spec=None,
    ):
        """Set up a consumer; nothing connects before run().

        options is the [engine_runner] group. handler is called with an
        RpcRequest and returns a Result. spawn(function, *args) starts a
        green thread and returns it; sleep must yield to other green threads.
        dead_letter_spec (config.dead_letter_spec) is declared at every
        connect and receives the tasks the runner rejects; None rejects them
        without requeue instead.
        """
        self._options = options
        self._connection_factory = connection_factory
        self._queue_spec = queue_spec
        self._dead_letter_spec = dead_letter_spec
        self._handler = handler
        self._notifier = notifier
        self._signals = signal_recorder
        self._spawn = spawn
        self._sleep = sleep
        self._clock = clock

        self._connection = None
        self._channel = None
        self._consumer = None
        self._generation = 0
        self._ready_sent = False
        self._stopping = False
        self._connect_failures = 0
        self._reconnect_status = ""
        self._in_hand = {}
        self._finished = collections.deque()
        self.counters = Counters()

    # Status and signals

    def status_text(self):
        counters = self.counters
        return (
            f"{counters.done} done, {counters.failed} failed, "
            f"{len(self._in_hand)} in hand, {counters.rejected} rejected, "
            f"{counters.dead_lettered} dead-lettered, "
            f"{counters.requeued} requeued, {counters.reconnects} reconnects, "
            f"{counters.possible_duplicates} possible duplicates"
        )

    def _update_status(self, prefix):
        self._notifier.status(f"{prefix}; {self.status_text()}")

    def _handle_signals(self):
        for signum in self._signals.pop_pending():
            name = signals.signal_name(signum)
            if signum in signals.STOP_SIGNALS:
                if self._stopping:
                    LOG.info("Received %s while already stopping", name)
                else:
                    LOG.info("Received %s: stopping after the tasks in hand", name)
            elif signum in signals.REPORT_SIGNALS:
                LOG.info("Received %s: %s", name, self.status_text())
                self._log_in_hand()
            else:
                LOG.info("Received %s: ignored", name)
        if self._signals.stop_requested:
            self._stopping = True

    def _log_in_hand(self):
        now = self._clock()
        for delivery in self._in_hand.values():
            LOG.info(
                "In hand: %s for environment %s, delivery tag %s, running %.1f s",
                delivery.request.method,
                delivery.environment,
                delivery.message.delivery_tag,
                now - delivery.started,
            )

    # The loop

    def run(self):
        """Consume until SIGTERM or SIGINT, then drain; return the exit code."""
        while True:
            self._handle_signals()
            if self._stopping:
                break
            try:
                self._connect()
            except self._errors() as exc:
                self._drop_connection()
                self._wait_before_reconnect(exc)
                continue
            self._connect_failures = 0
            try:
                self._consume_until_stopped()
            except self._errors() as exc:
                LOG.error(
                    "Lost the broker connection: %s; %d tasks in hand will be "
                    "redelivered by the broker and may run twice",
                    exc,
                    len(self._in_hand),
                )
                self.counters.reconnects += 1
                self._drop_connection()
        self._drain()
        return 0

    def _errors(self):
        # socket and TLS failures are OSErrors. kombu's tuples add the
        # transport's own connection and channel errors (py-amqp's
        # ConnectionForced, PreconditionFailed and others).
        errors = (OSError,)
        if self._connection is not None:
            errors += tuple(self._connection.connection_errors)
            errors += tuple(self._connection.channel_errors)
        return errors

    def _connect(self):
        self._connection = self._connection_factory()
        address = broker.describe(self._connection)
        if self._connect_failures == 0:
            # After a failure, keep the "broker unreachable" status instead.
            self._update_status(f"connecting to {address}")
        self._connection.connect()
        self._channel = self._connection.channel()

        # The dead-letter exchange goes first, so it exists before the
        # broker can dead-letter anything from the task queue.
        if self._dead_letter_spec is not None:
            broker.declare_dead_letter(self._channel, self._dead_letter_spec)
        queue = broker.make_queue(self._queue_spec)(self._channel)
        queue.declare()
        self._consumer = kombu.Consumer(
            self._channel,
            queues=[queue],
            no_ack=False,
            on_message=self._on_message,
        )
        # prefetch_count = max_in_flight, so the broker hands this process at
        # most that many unacknowledged messages.
        self._consumer.qos(prefetch_count=self._options.max_in_flight)
        self._consumer.consume()
        self._generation += 1

        LOG.info(
            "Consuming queue %s (exchange %s, routing key %s) from %s with prefetch %d",
            self._queue_spec.queue,
            self._queue_spec.exchange,
            self._queue_spec.routing_key,
            address,
            self._options.max_in_flight,
        )
        status = f"consuming {self._queue_spec.queue}; {self.status_text()}"
        if not self._ready_sent:
            self._notifier.ready(status)
            self._ready_sent = True
        else:
            self._notifier.status(status)

    def _wait_before_reconnect(self, error):
        self._connect_failures += 1
        delay = backoff.jittered(
            backoff.backoff_delay(
                self._connect_failures,
                self._options.reconnect_delay_min,
                self._options.reconnect_delay_max,
            )
        )
        LOG.warning(
            "Cannot connect to the broker (attempt %d): %s; retrying in %.1f s",
            self._connect_failures,
            error,
            delay,
        )
        # _tick() repeats this prefix while the loop waits.
        self._reconnect_status = (
            f"broker unreachable, attempt {self._connect_failures}, "
            f"retrying in {delay:.0f} s"
        )
        self._update_status(self._reconnect_status)
        deadline = self._clock() + delay
        while self._clock() < deadline:
            self._tick()
            if self._stopping:
                return
            self._sleep(min(self._options.poll_interval, deadline - self._clock()))

    def _consume_until_stopped(self):
        while True:
            self._tick()
            if self._stopping:
                return
            self._connection.heartbeat_check()
            self._wait_for_events()

    def _wait_for_events(self):
        # kombu raises socket.timeout, which is TimeoutError since Python 3.10,
        # when no event arrived within the timeout.
        with contextlib.suppress(TimeoutError):
            self._connection.drain_events(timeout=self._options.poll_interval)

    def _tick(self):
        """Do the loop's periodic work; runs at least every poll_interval."""
        self._handle_signals()
        self._settle_finished()
        self._notifier.ping_watchdog()
        if self._stopping:
            prefix = "stopping"
        elif self._channel is not None:
            prefix = f"consuming {self._queue_spec.queue}"
        elif self._connect_failures:
            prefix = self._reconnect_status
        else:
            prefix = "disconnected"
        self._update_status(prefix)

    def _drop_connection(self):
        connection = self._connection
        self._connection = self._channel = self._consumer = None
        if connection is not None:
            # collect() frees the connection's resources without network I/O,
            # which would fail or hang on a dead socket.
            try:
                connection.collect()
            except Exception:  # noqa: BLE001 (cleanup of a dead connection)
                LOG.debug("Error while releasing a dead connection", exc_info=True)

    # Receiving

    def _on_message(self, message):
        """Receive one message; called by kombu inside drain_events."""
        if self._stopping:
            # Sent before our basic.cancel reached the broker.
            message.requeue()
            self.counters.requeued += 1
            return

        options = self._options
        malformed = None
        try:
            request = envelope.parse_body(
                message.body,
                message.content_type,
                options.max_message_bytes,
                options.max_json_depth,
            )
        except envelope.MalformedMessage as exc:
            malformed = exc
        if malformed is not None:
            # Rejected outside the except block, because oslo.log appends the
            # exception being handled to ERROR records, repeating the reason.
            self._reject(message, malformed.reason, malformed.environment_id)
            return

        # NOTE: the count cannot tell a task that stops engines from one that
        # was in hand when engines stopped for another reason, so frequent
        # outside kills (one every 2 s in bench/soak.py) can dead-letter sound
        # tasks.
        count = delivery_count(message)
        limit = options.max_redeliveries
        if limit and count is not None and count > limit:
            self._reject(
                message,
                f"redelivered {count} times, over max_redeliveries={limit}; "
                "it probably stops the engine each time",
                request.environment_id,
            )
            return

        redelivered = bool(message.delivery_info.get("redelivered"))
        if redelivered:
            LOG.warning(
                "Task %s for environment %s is a redelivery (x-delivery-count "
                "%s): an engine that held it before stopped or lost its "
                "connection, so it may have run before",
                request.method,
                request.environment_id or "-",
                count if count is not None else "not set",
            )

        delivery = Delivery(
            message=message,
            request=request,
            generation=self._generation,
            started=self._clock(),
            redelivered=redelivered,
            delivery_count=count,
        )
        self._in_hand[delivery.key] = delivery
        LOG.info(
            "Starting %s for environment %s (delivery tag %s)",
            request.method,
            delivery.environment,
            message.delivery_tag,
        )
        delivery.green_thread = self._spawn(self._run_handler, delivery)

    def _reject(self, message, reason, environment_id):
        LOG.error(
            "Rejecting message with delivery tag %s for environment %s: %s",
            message.delivery_tag,
            environment_id or "-",
            reason,
        )
        self._dead_letter(message, reason, environment_id)
        self.counters.rejected += 1

    def _dead_letter(self, message, reason, environment_id):
        """Move a message to the dead-letter exchange with the reason.

        The copy is published with publisher confirms (broker.py) before the
        original is acknowledged. A connection lost between the two leaves
        the original unacknowledged, so the broker redelivers it and the
        dead-letter queue may then get it twice, but nothing is lost.
        """
        spec = self._dead_letter_spec
        if spec is None:
            message.reject(requeue=False)
            return
        headers = dict(getattr(message, "headers", None) or {})
        count = headers.pop("x-delivery-count", None)
        if count is not None:
            headers[DELIVERY_COUNT_HEADER] = count
        headers[REASON_HEADER] = reason[:MAX_REASON_CHARS]
        headers[ENVIRONMENT_HEADER] = environment_id or ""
        kombu.Producer(self._channel).publish(
            message.body,
            exchange=spec.exchange,
            routing_key=self._queue_spec.routing_key,
            headers=headers,
            content_type=message.content_type or "application/octet-stream",
            content_encoding=message.content_encoding or "binary",
            delivery_mode=2,
        )
        message.ack()
        self.counters.dead_lettered += 1
        LOG.info(
            "Dead-lettered the message for environment %s to exchange %s",
            environment_id or "-",
            spec.exchange,
        )

    def _run_handler(self, delivery):
        try:
            result = self._handler(delivery.request)
        except Exception as exc:  # noqa: BLE001 (one task must not stop the loop)
            LOG.exception(
                "Handler for %s raised for environment %s",
                delivery.request.method,
                delivery.environment,
            )
            result = Result(Outcome.DEAD_LETTER, f"the runner's handler raised {exc!r}")
        self._finished.append((delivery, result))

    # Settling

    def _settle_finished(self):
        while self._finished:
            delivery, result = self._finished.popleft()
            if self._in_hand.pop(delivery.key, None) is None:
                continue  # already returned to the queue by the drain
            self._settle(delivery, result)

    def _settle(self, delivery, result):
        elapsed = self._clock() - delivery.started
        if delivery.generation != self._generation or self._channel is None:
            self.counters.possible_duplicates += 1
            LOG.warning(
                "Cannot %s %s for environment %s after %.1f s: the channel it "
                "came on is closed, so the broker redelivers it and it may "
                "run twice (%d possible duplicates so far)",
                result.outcome.value,
                delivery.request.method,
                delivery.environment,
                elapsed,
                self.counters.possible_duplicates,
            )
            return

        if result.reply is not None:
            self._publish_reply(delivery, result.reply)

        message = delivery.message
        try:
            if result.outcome is Outcome.ACK:
                message.ack()
                self.counters.done += 1
                LOG.info(
                    "Finished %s for environment %s in %.1f s, acknowledged",
                    delivery.request.method,
                    delivery.environment,
                    elapsed,
                )
            elif result.outcome is Outcome.REQUEUE:
                message.requeue()
                self.counters.requeued += 1
                LOG.warning(
                    "Returned %s for environment %s to the queue after %.1f s: %s",
                    delivery.request.method,
                    delivery.environment,
                    elapsed,
                    result.reason,
                )
            else:
                self._dead_letter(
                    message, result.reason, delivery.request.environment_id
                )
                self.counters.failed += 1
                LOG.error(
                    "Rejected %s for environment %s after %.1f s: %s",
                    delivery.request.method,
                    delivery.environment,
                    elapsed,
                    result.reason,
                )
        except self._errors():
            self.counters.possible_duplicates += 1
            LOG.warning(
                "Failed to %s %s for environment %s: the broker redelivers "
                "it, so it may run twice",
                result.outcome.value,
                delivery.request.method,
                delivery.environment,
            )
            raise

    def _publish_reply(self, delivery, reply):
        request = delivery.request
        try:
            producer = kombu.Producer(self._channel)
            # Replies go to the caller's reply queue through the default
            # exchange, as oslo.messaging's direct_send does.
            producer.publish(
                reply,
                exchange="",
                routing_key=request.reply_q,
                serializer="json",
            )
        except self._errors():
            raise
        except Exception:  # noqa: BLE001 (a reply that cannot be encoded)
            LOG.exception(
                "Failed to send the reply to %s for environment %s",
                request.method,
                delivery.environment,
            )

    # Stopping

    def _drain(self):
        LOG.info(
            "Stopping: cancelling the consumer, waiting up to %.1f s for %d "
            "tasks in hand",
            self._options.drain_timeout,
            len(self._in_hand),
        )
        self._notifier.stopping(f"stopping; {self.status_text()}")
        self._cancel_consumer()

        deadline = self._clock() + self._options.drain_timeout
        while self._in_hand and self._clock() < deadline:
            try:
                self._tick()
                if self._connection is None:
                    self._sleep(self._options.poll_interval)
                    continue
                self._connection.heartbeat_check()
                self._wait_for_events()
            except self._errors() as exc:
                LOG.error("Lost the broker connection while stopping: %s", exc)
                self._drop_connection()
        try:
            self._settle_finished()
        except self._errors() as exc:
            LOG.error("Lost the broker connection while stopping: %s", exc)
            self._drop_connection()

        if self._in_hand:
            self._return_unfinished()
        self._close()
        LOG.info("Stopped: %s", self.status_text())

    def _cancel_consumer(self):
        if self._consumer is None:
            return
        try:
            self._consumer.cancel()
        except self._errors() as exc:
            LOG.error("Failed to cancel the consumer: %s", exc)
            self._drop_connection()

    def _return_unfinished(self):
        for delivery in list(self._in_hand.values()):
            thread = delivery.green_thread
            if thread is not None and hasattr(thread, "kill"):
                thread.kill()
            LOG.warning(
                "Returning %s for environment %s to the queue: still running "
                "after drain_timeout=%.1f s",
                delivery.request.method,
                delivery.environment,
                self._options.drain_timeout,
            )
            if self._connection is None or delivery.generation != self._generation:
                # The broker already requeued it when the channel closed.
                continue
            # NOTE: a quorum queue counts this return in x-delivery-count, so
            # repeated restarts during one long task can reach max_redeliveries.
            try:
                delivery.message.requeue()
                self.counters.requeued += 1
            except self._errors() as exc:
                LOG.error("Failed to requeue, the broker redelivers it: %s", exc)
                self._drop_connection()
        self._in_hand.clear()

    def _close(self):
        if self._connection is None:
            return
        try:
            self._connection.release()
        except self._errors() as exc:
            LOG.warning("Error while closing the broker connection: %s", exc)
        self._connection = self._channel = self._consumer = None
