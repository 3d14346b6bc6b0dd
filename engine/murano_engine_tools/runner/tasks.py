"""Run requests with Murano's own engine code and report the results.

Each method calls the endpoint code of murano.common.engine (Murano 14)
that murano-engine's RPC server would call. handle_task is split into its two
steps, TaskProcessingEndpoint.execute and rpc.api().process_result, so the
runner can add the engine's identity to the result between them and retry
the report. Murano is imported when a MuranoHandler is created.
"""

import logging
import sys
import time

from murano_engine_tools.runner import envelope
from murano_engine_tools.runner.consumer import Outcome, Result

LOG = logging.getLogger(__name__)


class MuranoHandler:
    """The handler for TaskConsumer that runs requests in Murano's engine."""

    def __init__(self, engine_info, report_attempts, sleep=time.sleep):
        from murano.common import engine as murano_engine
        from murano.common import rpc

        if not rpc.initialized():
            rpc.init()
        self._engine = murano_engine
        self._rpc = rpc
        self._engine_info = dict(engine_info)
        self._report_attempts = report_attempts
        self._sleep = sleep

    def __call__(self, request):
        if request.method == "handle_task":
            return self.handle_task(request.args["task"])
        if request.method == "call_static_action":
            return self._call(
                request,
                self._engine.StaticActionEndpoint.call_static_action,
                request.context,
                request.args["task"],
            )
        if request.method == "generate_schema":
            return self._call(
                request,
                self._engine.SchemaEndpoint.generate_schema,
                request.context,
                **request.args,
            )
        # envelope.validate_request admits only the methods above.
        return Result(Outcome.DEAD_LETTER, f"method {request.method} is not supported")

    def handle_task(self, task):
        """Run one deployment or action task and report its result."""
        environment_id = task["id"]
        try:
            result = self._engine.TaskProcessingEndpoint.execute(task)
        except Exception as exc:  # noqa: BLE001 (reported as the reject reason)
            # TaskExecutor turns MuranoPL errors, unknown classes and unknown
            # methods into an exception result, so this is an error outside
            # MuranoPL, such as an unreadable package directory. murano-engine
            # would log it and lose the task, and the runner dead-letters it.
            LOG.exception(
                "Murano failed to run the task for environment %s", environment_id
            )
            return Result(Outcome.DEAD_LETTER, f"Murano raised {exc!r}")

        if not isinstance(result, dict):
            return Result(
                Outcome.DEAD_LETTER,
                f"Murano returned a {type(result).__name__}, not a result object",
            )
        action = result.get("action") or {}
        if action.get("isException"):
            details = action.get("result") or {}
            LOG.warning(
                "Task for environment %s ended with an exception, reporting it "
                "as a failed result: %s",
                environment_id,
                details.get("message"),
            )
        result["engine"] = dict(self._engine_info)
        return self._report(result, environment_id)

    def _report(self, result, environment_id):
        import oslo_messaging

        for attempt in range(1, self._report_attempts + 1):
            try:
                self._rpc.api().process_result(result, environment_id)
                return Result(Outcome.ACK)
            except oslo_messaging.RemoteError as exc:
                # murano-api received the result and raised while storing it.
                # Running the task again cannot change that.
                LOG.error(
                    "murano-api failed to store the result for environment %s: %s",
                    environment_id,
                    exc,
                )
                return Result(Outcome.ACK)
            except oslo_messaging.MessagingException as exc:
                LOG.warning(
                    "Failed to report the result for environment %s "
                    "(attempt %d of %d): %s",
                    environment_id,
                    attempt,
                    self._report_attempts,
                    exc,
                )
                if attempt < self._report_attempts:
                    self._sleep(2 ** (attempt - 1))
        return Result(
            Outcome.REQUEUE,
            f"the result could not be reported after {self._report_attempts} "
            "attempts; the task runs again",
        )

    def _call(self, request, endpoint, *args, **kwargs):
        """Run an RPC call's endpoint and build the reply, as oslo's server does."""
        try:
            value = endpoint(*args, **kwargs)
        except Exception:  # noqa: BLE001 (sent to the caller as a failure)
            # NOTE: serialize_remote_exception is oslo.messaging's private
            # helper, used so the caller gets the remote error it expects.
            from oslo_messaging._drivers import common as rpc_common

            LOG.warning(
                "%s for environment %s raised; replying with the error",
                request.method,
                request.environment_id or "-",
                exc_info=True,
            )
            failure = rpc_common.serialize_remote_exception(sys.exc_info())
            reply = envelope.reply_envelope(request.msg_id, failure=failure)
            return Result(Outcome.ACK, reply=reply)
        reply = envelope.reply_envelope(request.msg_id, result=value)
        return Result(Outcome.ACK, reply=reply)
