import uuid

from murano_engine_tools import tasks


def make_task():
    application = tasks.build_application(
        "engine.workloads.Wait", {"seconds": 1.0}, object_id="app-1"
    )
    environment = tasks.build_environment("env-1", "bench-0", [application])
    return tasks.build_deploy_task(environment, "project", "user", "token")


def test_deploy_task_top_level_keys():
    task = make_task()

    assert set(task) == {"action", "model", "token", "project_id", "user_id", "id"}
    assert task["id"] == "env-1"
    assert task["token"] == "token"  # noqa: S105 (placeholder, not a secret)
    assert task["project_id"] == "project"
    assert task["user_id"] == "user"


def test_deploy_task_action_targets_environment():
    task = make_task()

    assert task["action"] == {"object_id": "env-1", "method": "deploy", "args": {}}


def test_deploy_task_model_is_first_deployment():
    model = make_task()["model"]

    assert set(model) == {"Objects", "Attributes", "project_id", "user_id"}
    assert model["Attributes"] == []
    assert model["project_id"] == "project"
    assert model["user_id"] == "user"


def test_environment_object_shape():
    environment = make_task()["model"]["Objects"]

    assert environment["?"] == {
        "id": "env-1",
        "type": "io.murano.Environment",
        "metadata": {},
    }
    assert environment["name"] == "bench-0"
    assert environment["defaultNetworks"] == {"environment": None, "flat": None}
    assert "services" not in environment


def test_application_object_shape():
    applications = make_task()["model"]["Objects"]["applications"]

    assert applications == [
        {"?": {"id": "app-1", "type": "engine.workloads.Wait"}, "seconds": 1.0}
    ]


def test_new_object_id_is_unique_uuid():
    ids = {tasks.new_object_id() for _ in range(100)}

    assert len(ids) == 100
    for object_id in ids:
        assert str(uuid.UUID(object_id)) == object_id


def test_build_application_generates_id():
    first = tasks.build_application("engine.workloads.Fail", {})
    second = tasks.build_application("engine.workloads.Fail", {})

    assert first["?"]["id"] != second["?"]["id"]
