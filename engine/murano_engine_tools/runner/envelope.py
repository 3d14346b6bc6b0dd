"""Parse and validate oslo.messaging RPC messages carrying Murano tasks.

oslo.messaging's rabbit driver publishes each RPC message as JSON
(content type application/json) in an envelope::

    {"oslo.version": "2.0", "oslo.message": "<the message as a JSON string>"}

The inner message contains "method", "args", optional "namespace" and
"version", the request context as "_context_<key>" entries, "_unique_id", and
for a call (not a cast) "_msg_id", "_reply_q" and "_timeout"
(oslo_messaging/_drivers/common.py and amqp.py, release 14).

Everything here is plain Python, so it runs and is tested without Murano.
"""

import dataclasses
import json
import uuid

ENVELOPE_VERSION = "2.0"
VERSION_KEY = "oslo.version"
MESSAGE_KEY = "oslo.message"
CONTEXT_PREFIX = "_context_"

# RPC methods of Murano's engine endpoints (murano.common.engine): a cast of
# handle_task, and calls of call_static_action and generate_schema.
CAST_METHODS = frozenset({"handle_task"})
CALL_METHODS = frozenset({"call_static_action", "generate_schema"})


class MalformedMessage(Exception):
    """A message that no retry can make valid: reject it without requeue."""

    def __init__(self, reason, environment_id=None):
        super().__init__(reason)
        self.reason = reason
        self.environment_id = environment_id


@dataclasses.dataclass
class RpcRequest:
    """One parsed RPC request."""

    method: str
    args: dict
    context: dict
    unique_id: str | None = None
    msg_id: str | None = None
    reply_q: str | None = None
    environment_id: str | None = None

    @property
    def is_call(self):
        return self.msg_id is not None


def check_json_depth(text, max_depth):
    """Raise MalformedMessage if JSON text nests deeper than max_depth.

    It scans brackets outside string literals, so it never builds the
    nested structure that a hostile message would use to exhaust the stack.
    It does not validate the JSON, which json.loads does afterwards.
    """
    depth = 0
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > max_depth:
                raise MalformedMessage(
                    f"JSON nesting exceeds max_json_depth={max_depth}"
                )
        elif char in "]}":
            depth -= 1


def _reject_constant(name):
    raise ValueError(f"invalid JSON constant {name}")


def _loads(text, max_depth, what):
    check_json_depth(text, max_depth)
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise MalformedMessage(f"{what} is not valid JSON: {exc}") from exc


def _find_environment_id(message):
    args = message.get("args")
    if not isinstance(args, dict):
        return None
    task = args.get("task")
    if isinstance(task, dict) and isinstance(task.get("id"), str):
        return task["id"]
    return None


def parse_body(body, content_type, max_bytes, max_depth):
    """Parse a raw AMQP body into an RpcRequest, or raise MalformedMessage.

    body is bytes as received. Only JSON is accepted. A body that kombu could
    decode with another serializer (pickle in particular) is rejected
    unread, because oslo.messaging never sends one.
    """
    if len(body) > max_bytes:
        raise MalformedMessage(
            f"message body is {len(body)} bytes, over max_message_bytes={max_bytes}"
        )
    if content_type not in (None, "", "application/json"):
        raise MalformedMessage(f"content type {content_type!r} is not application/json")
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        raise MalformedMessage(f"message body is not UTF-8: {exc}") from exc

    envelope = _loads(text, max_depth, "message body")
    if not isinstance(envelope, dict) or MESSAGE_KEY not in envelope:
        raise MalformedMessage(
            f"message is not an oslo.messaging envelope (no {MESSAGE_KEY!r} key)"
        )
    if envelope.get(VERSION_KEY) != ENVELOPE_VERSION:
        raise MalformedMessage(
            f"unsupported envelope version {envelope.get(VERSION_KEY)!r}, "
            f"expected {ENVELOPE_VERSION!r}"
        )
    inner = envelope[MESSAGE_KEY]
    if not isinstance(inner, str):
        raise MalformedMessage(f"{MESSAGE_KEY!r} is not a JSON string")

    message = _loads(inner, max_depth, MESSAGE_KEY)
    if not isinstance(message, dict):
        raise MalformedMessage(f"{MESSAGE_KEY!r} is not a JSON object")
    return _to_request(message)


def _to_request(message):
    environment_id = _find_environment_id(message)

    def fail(reason):
        raise MalformedMessage(reason, environment_id)

    method = message.get("method")
    if not isinstance(method, str):
        fail("RPC message has no method name")
    args = message.get("args", {})
    if not isinstance(args, dict):
        fail(f"args of {method} is not an object")

    namespace = message.get("namespace")
    if namespace is not None:
        fail(f"RPC namespace {namespace!r} is not served by Murano's engine")
    version = message.get("version")
    if version is not None and not str(version).startswith("1."):
        fail(f"RPC version {version!r} is not compatible with 1.0")

    context = {
        key[len(CONTEXT_PREFIX) :]: value
        for key, value in message.items()
        if key.startswith(CONTEXT_PREFIX)
    }
    msg_id = message.get("_msg_id")
    reply_q = message.get("_reply_q")
    if msg_id is not None and not (
        isinstance(msg_id, str) and isinstance(reply_q, str)
    ):
        fail("RPC call has an invalid _msg_id or _reply_q")

    request = RpcRequest(
        method=method,
        args=args,
        context=context,
        unique_id=message.get("_unique_id"),
        msg_id=msg_id,
        reply_q=reply_q if msg_id is not None else None,
        environment_id=environment_id,
    )
    validate_request(request)
    return request


def _require(mapping, key, types, where, environment_id):
    if key not in mapping:
        raise MalformedMessage(f"{where} is missing {key!r}", environment_id)
    value = mapping[key]
    if not isinstance(value, types):
        names = " or ".join(
            "null" if t is type(None) else t.__name__ for t in _as_tuple(types)
        )
        raise MalformedMessage(
            f"{where}[{key!r}] is {type(value).__name__}, expected {names}",
            environment_id,
        )
    return value


def _as_tuple(types):
    return types if isinstance(types, tuple) else (types,)


_OPTIONAL_STR = (str, type(None))


def validate_task(task, environment_id=None):
    """Check a handle_task task has the fields and types Murano reads.

    The fields are those murano.common.engine.TaskExecutor reads before it
    catches errors, so a task that passes cannot raise KeyError there.
    """
    if not isinstance(task, dict):
        raise MalformedMessage("args.task is not an object", environment_id)
    _require(task, "id", str, "task", environment_id)
    for key in ("token", "project_id", "user_id"):
        _require(task, key, _OPTIONAL_STR, "task", environment_id)

    model = _require(task, "model", dict, "task", environment_id)
    for key in ("project_id", "user_id"):
        _require(model, key, _OPTIONAL_STR, "task['model']", environment_id)
    for key in ("Objects", "ObjectsCopy", "Attributes", "SystemData"):
        if key in model and model[key] is not None:
            _require(model, key, (dict, list), "task['model']", environment_id)

    action = task.get("action")
    if action is not None:
        if not isinstance(action, dict):
            raise MalformedMessage("task['action'] is not an object", environment_id)
        _require(action, "object_id", str, "task['action']", environment_id)
        _require(action, "method", str, "task['action']", environment_id)
        _require(action, "args", dict, "task['action']", environment_id)


def validate_static_action(task, environment_id=None):
    """Check a call_static_action task has what StaticActionExecutor reads."""
    if not isinstance(task, dict):
        raise MalformedMessage("args.task is not an object", environment_id)
    _require(task, "id", str, "task", environment_id)
    for key in ("token", "project_id", "user_id"):
        _require(task, key, _OPTIONAL_STR, "task", environment_id)
    action = _require(task, "action", dict, "task", environment_id)
    _require(action, "class_name", str, "task['action']", environment_id)
    _require(action, "method", str, "task['action']", environment_id)
    _require(action, "args", dict, "task['action']", environment_id)
    _require(action, "pkg_name", _OPTIONAL_STR, "task['action']", environment_id)
    _require(action, "class_version", _OPTIONAL_STR, "task['action']", environment_id)


def validate_request(request):
    """Check the method is one the runner serves and its arguments fit it."""
    method = request.method
    env = request.environment_id
    if method not in CAST_METHODS | CALL_METHODS:
        raise MalformedMessage(f"RPC method {method!r} is not supported", env)
    if method in CAST_METHODS and request.is_call:
        raise MalformedMessage(f"{method} must be sent as a cast, not a call", env)
    if method in CALL_METHODS and not request.is_call:
        raise MalformedMessage(
            f"{method} must be sent as a call with a reply queue", env
        )

    if method == "handle_task":
        if set(request.args) != {"task"}:
            raise MalformedMessage(
                "handle_task takes exactly one argument 'task', "
                f"got {sorted(request.args)}",
                env,
            )
        validate_task(request.args["task"], env)
    elif method == "call_static_action":
        if set(request.args) != {"task"}:
            raise MalformedMessage(
                "call_static_action takes exactly one argument 'task'", env
            )
        validate_static_action(request.args["task"], env)
    elif method == "generate_schema":
        # SchemaEndpoint.generate_schema reads the token and project from
        # the request context, not from the arguments.
        for key in ("token", "project_id"):
            _require(request.context, key, _OPTIONAL_STR, "context", env)
        _require(request.args, "class_name", str, "args", env)
        allowed = {"class_name", "method_names", "class_version", "package_name"}
        extra = set(request.args) - allowed
        if extra:
            raise MalformedMessage(
                f"generate_schema got unexpected arguments {sorted(extra)}", env
            )


def reply_envelope(msg_id, result=None, failure=None):
    """Build the envelope of an RPC reply as oslo.messaging 14 sends it.

    The fields follow AMQPIncomingMessage._send_reply in
    oslo_messaging/_drivers/amqpdriver.py. failure is a string from
    serialize_remote_exception, or None on success.
    """
    from oslo_serialization import jsonutils

    message = {
        "result": result,
        "failure": failure,
        "ending": True,
        "_msg_id": msg_id,
        "_unique_id": uuid.uuid4().hex,
    }
    return {VERSION_KEY: ENVELOPE_VERSION, MESSAGE_KEY: jsonutils.dumps(message)}
