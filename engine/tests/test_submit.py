import json

import pytest

from murano_engine_tools import submit
from murano_engine_tools.summary import summarize
from murano_engine_tools.transport_url import TRANSPORT_URL_VARIABLE


def parse(*argv):
    return submit.build_parser().parse_args(list(argv))


def test_defaults():
    args = parse()

    assert args.count == 1
    assert args.workload == "wait"
    assert args.seconds == 1.0
    assert args.steps == 3000
    assert args.apps_per_env == 1
    assert args.concurrency is None
    assert args.timeout == 300.0
    assert args.json is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--count", "0"], "--count: invalid value '0': expected 1 or more"),
        (["--count", "x"], "--count: invalid value 'x': expected an integer"),
        (["--seconds", "-1"], "--seconds: invalid value '-1': expected 0 or more"),
        (["--seconds", "inf"], "expected a finite number"),
        (["--steps", "1.5"], "--steps: invalid value '1.5': expected an integer"),
        (["--apps-per-env", "0"], "--apps-per-env: invalid value '0'"),
        (["--concurrency", "-2"], "--concurrency: invalid value '-2'"),
        (["--timeout", "0"], "--timeout: invalid value '0': expected more than 0"),
        (["--workload", "sleep"], "invalid choice: 'sleep'"),
    ],
)
def test_invalid_arguments_rejected(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)

    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_build_tasks_unique_environment_ids():
    built = submit.build_tasks(parse("--count", "50", "--apps-per-env", "3"))

    environment_ids = {task["id"] for task in built}
    application_ids = {
        application["?"]["id"]
        for task in built
        for application in task["model"]["Objects"]["applications"]
    }
    assert len(built) == 50
    assert len(environment_ids) == 50
    assert len(application_ids) == 150


def test_build_tasks_uses_workload_class():
    built = submit.build_tasks(parse("--workload", "cpu", "--steps", "7"))

    applications = built[0]["model"]["Objects"]["applications"]
    assert applications[0]["?"]["type"] == "engine.workloads.Cpu"
    assert applications[0]["steps"] == 7
    assert "seconds" not in applications[0]


def test_build_tasks_task_id_is_environment_id():
    task = submit.build_tasks(parse())[0]

    assert task["id"] == task["model"]["Objects"]["?"]["id"]
    assert task["action"]["object_id"] == task["id"]


def test_describe_run_lists_only_used_setting():
    wait = submit.describe_run(parse("--seconds", "2"))
    cpu = submit.describe_run(parse("--workload", "cpu", "--steps", "9"))
    fail = submit.describe_run(parse("--workload", "fail"))

    assert wait["seconds"] == 2.0
    assert "steps" not in wait
    assert cpu["steps"] == 9
    assert "seconds" not in cpu
    assert "seconds" not in fail
    assert "steps" not in fail


def test_main_without_url_names_variable(monkeypatch, capsys):
    monkeypatch.delenv(TRANSPORT_URL_VARIABLE, raising=False)

    status = submit.main(["--count", "1"])

    assert status == 2
    assert TRANSPORT_URL_VARIABLE in capsys.readouterr().err


def test_main_invalid_url_is_masked(monkeypatch, capsys):
    monkeypatch.setenv(TRANSPORT_URL_VARIABLE, "nosuchdriver://u:topsecret@h//")

    status = submit.main(["--count", "1"])

    err = capsys.readouterr().err
    assert status == 2
    assert "invalid transport URL" in err
    assert "topsecret" not in err
    assert "u:***@h" in err


def test_main_port_not_a_number_rejected(monkeypatch, capsys):
    monkeypatch.setenv(TRANSPORT_URL_VARIABLE, "rabbit://u:topsecret@h:notaport//")

    status = submit.main(["--count", "1"])

    err = capsys.readouterr().err
    assert status == 2
    assert "invalid transport URL" in err
    assert "topsecret" not in err


def test_write_json(tmp_path):
    args = parse("--count", "2")
    summary = summarize({}, 0, 2, 1.0)
    path = tmp_path / "figures.json"

    submit.write_json(path, submit.describe_run(args), summary, "2024-01-01T00:00:00")

    document = json.loads(path.read_text())
    assert document["parameters"]["count"] == 2
    assert document["summary"]["not_cast"] == 2
    assert document["started_at"] == "2024-01-01T00:00:00"
