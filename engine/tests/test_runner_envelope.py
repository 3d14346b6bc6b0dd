"""Tests of oslo.messaging envelope parsing and task validation."""

import json

import pytest

from murano_engine_tools.runner import envelope

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 50


def make_task(**overrides):
    task = {
        "action": {"object_id": "env-1", "method": "deploy", "args": {}},
        "model": {
            "Objects": {"?": {"id": "env-1", "type": "io.murano.Environment"}},
            "Attributes": [],
            "project_id": "project",
            "user_id": "user",
        },
        "token": None,
        "project_id": "project",
        "user_id": "user",
        "id": "env-1",
    }
    task.update(overrides)
    return task


def wrap(message):
    return json.dumps(
        {"oslo.version": "2.0", "oslo.message": json.dumps(message)}
    ).encode()


def parse(body, content_type="application/json"):
    return envelope.parse_body(body, content_type, MAX_BYTES, MAX_DEPTH)


def test_parse_handle_task_cast():
    body = wrap(
        {
            "method": "handle_task",
            "args": {"task": make_task()},
            "_unique_id": "u1",
            "_context_request_id": "req-1",
        }
    )

    request = parse(body)

    assert request.method == "handle_task"
    assert request.environment_id == "env-1"
    assert request.context == {"request_id": "req-1"}
    assert request.unique_id == "u1"
    assert not request.is_call


def test_parse_static_action_call():
    task = {
        "id": "env-2",
        "token": "t",
        "project_id": "p",
        "user_id": "u",
        "action": {
            "class_name": "a.B",
            "pkg_name": None,
            "class_version": "=0",
            "method": "m",
            "args": {},
        },
    }
    body = wrap(
        {
            "method": "call_static_action",
            "args": {"task": task},
            "_msg_id": "m1",
            "_reply_q": "reply_abc",
            "_timeout": 15,
        }
    )

    request = parse(body)

    assert request.is_call
    assert request.reply_q == "reply_abc"
    assert request.environment_id == "env-2"


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"{not json", "application/json", "not valid JSON"),
        (b"\xff\xfe", "application/json", "not UTF-8"),
        (b"[1, 2]", "application/json", "not an oslo.messaging envelope"),
        (b'{"method": "handle_task"}', "application/json", "not an oslo.messaging"),
        (
            b'{"oslo.version": "1.0", "oslo.message": "{}"}',
            "application/json",
            "unsupported envelope version",
        ),
        (b'{"oslo.version": "2.0", "oslo.message": 3}', None, "not a JSON string"),
        (b'{"oslo.version": "2.0", "oslo.message": "[]"}', None, "not a JSON object"),
        (b"\x80\x04K\x01.", "application/x-python-serialize", "content type"),
        (b'{"x": NaN}', "application/json", "invalid JSON constant"),
    ],
)
def test_parse_rejects_malformed_body(body, content_type, reason):
    with pytest.raises(envelope.MalformedMessage) as caught:
        parse(body, content_type)

    assert reason in caught.value.reason


def test_parse_rejects_oversized_body():
    body = wrap({"method": "handle_task", "args": {"task": make_task()}})

    with pytest.raises(envelope.MalformedMessage) as caught:
        envelope.parse_body(body, "application/json", len(body) - 1, MAX_DEPTH)

    assert "max_message_bytes" in caught.value.reason


def test_parse_rejects_deep_outer_json():
    body = b"[" * 10000 + b"]" * 10000

    with pytest.raises(envelope.MalformedMessage) as caught:
        parse(body)

    assert "max_json_depth=50" in caught.value.reason


def test_parse_rejects_deep_inner_json():
    nested = {}
    for _ in range(60):
        nested = {"a": nested}
    body = wrap({"method": "handle_task", "args": {"task": make_task(model=nested)}})

    with pytest.raises(envelope.MalformedMessage) as caught:
        parse(body)

    assert "max_json_depth" in caught.value.reason


@pytest.mark.parametrize(
    ("text", "limit", "ok"),
    [
        ("[[[]]]", 3, True),
        ("[[[]]]", 2, False),
        ('["[[[[[[", "]]]"]', 1, True),
        ('{"a": "\\"[[[["}', 1, True),
        ('{"a": {"b": [1, {"c": 2}]}}', 4, True),
        ('{"a": {"b": [1, {"c": 2}]}}', 3, False),
    ],
)
def test_check_json_depth_ignores_strings(text, limit, ok):
    if ok:
        envelope.check_json_depth(text, limit)
    else:
        with pytest.raises(envelope.MalformedMessage):
            envelope.check_json_depth(text, limit)


def test_unknown_method_rejected_with_environment():
    body = wrap({"method": "drop_tables", "args": {"task": make_task()}})

    with pytest.raises(envelope.MalformedMessage) as caught:
        parse(body)

    assert "'drop_tables' is not supported" in caught.value.reason
    assert caught.value.environment_id == "env-1"


def test_handle_task_as_call_rejected():
    body = wrap(
        {
            "method": "handle_task",
            "args": {"task": make_task()},
            "_msg_id": "m",
            "_reply_q": "q",
        }
    )

    with pytest.raises(envelope.MalformedMessage) as caught:
        parse(body)

    assert "cast" in caught.value.reason


def test_static_action_as_cast_rejected():
    body = wrap({"method": "call_static_action", "args": {"task": {}}})

    with pytest.raises(envelope.MalformedMessage) as caught:
        parse(body)

    assert "reply queue" in caught.value.reason


def test_foreign_namespace_rejected():
    body = wrap(
        {"method": "handle_task", "namespace": "x", "args": {"task": make_task()}}
    )

    with pytest.raises(envelope.MalformedMessage):
        parse(body)


def test_incompatible_version_rejected():
    body = wrap(
        {"method": "handle_task", "version": "2.0", "args": {"task": make_task()}}
    )

    with pytest.raises(envelope.MalformedMessage) as caught:
        parse(body)

    assert "not compatible" in caught.value.reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": 5}, "task['id'] is int, expected str"),
        ({"model": "text"}, "task['model'] is str, expected dict"),
        ({"token": 1}, "task['token'] is int"),
        ({"action": []}, "task['action'] is not an object"),
        ({"action": {"object_id": "x", "method": 3, "args": {}}}, "'method'"),
        ({"action": {"object_id": "x", "method": "m"}}, "missing 'args'"),
        ({"model": {"user_id": "u"}}, "missing 'project_id'"),
        ({"model": {"project_id": "p", "user_id": "u", "Objects": 3}}, "'Objects'"),
    ],
)
def test_validate_task_rejects_bad_fields(change, reason):
    task = make_task(**change)

    with pytest.raises(envelope.MalformedMessage) as caught:
        envelope.validate_task(task, task.get("id"))

    assert reason in caught.value.reason


def test_validate_task_rejects_missing_user_id():
    task = make_task()
    del task["user_id"]

    with pytest.raises(envelope.MalformedMessage) as caught:
        envelope.validate_task(task, "env-1")

    assert "missing 'user_id'" in caught.value.reason
    assert caught.value.environment_id == "env-1"


def test_validate_task_accepts_no_action():
    envelope.validate_task(make_task(action=None))


def test_generate_schema_requires_context_token():
    body = wrap(
        {
            "method": "generate_schema",
            "args": {"class_name": "a.B"},
            "_msg_id": "m",
            "_reply_q": "q",
        }
    )

    with pytest.raises(envelope.MalformedMessage) as caught:
        parse(body)

    assert "context is missing 'token'" in caught.value.reason


def test_reply_envelope_matches_oslo_format():
    reply = envelope.reply_envelope("m1", result={"a": 1})

    assert reply["oslo.version"] == "2.0"
    message = json.loads(reply["oslo.message"])
    assert message["result"] == {"a": 1}
    assert message["failure"] is None
    assert message["ending"] is True
    assert message["_msg_id"] == "m1"
    assert message["_unique_id"]
