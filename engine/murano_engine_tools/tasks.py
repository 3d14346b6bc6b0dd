"""Build deploy tasks in the shape that murano-api casts to the engine.

Source: murano 14.0.0, ``murano/db/services/environments.py``
(``EnvironmentServices.create`` builds the model) and
``murano/services/actions.py`` (``ActionServices.create_action_task`` builds
the task, sets the environment id and renames ``services`` to
``applications``).
"""

import uuid

ENVIRONMENT_CLASS = "io.murano.Environment"

# Placeholders for the Keystone identity of the request. With
# [engine] use_trusts = False the engine only copies them into the execution
# session, and our workloads call no OpenStack service.
DEFAULT_PROJECT_ID = "murano-engine-tools-project"
DEFAULT_USER_ID = "murano-engine-tools-user"
DEFAULT_TOKEN = "murano-engine-tools-unused-token"  # noqa: S105 (not a secret)


def new_object_id():
    """Return a new object id, formatted as oslo.utils' generate_uuid()."""
    return str(uuid.uuid4())


def build_application(class_name, properties, object_id=None):
    """Return the model of one application object of class ``class_name``."""
    application = {"?": {"id": object_id or new_object_id(), "type": class_name}}
    application.update(properties)
    return application


def build_environment(environment_id, name, applications):
    """Return the io.murano.Environment object that contains ``applications``.

    murano-api fills ``defaultNetworks`` with a Neutron or Nova network
    template unless the request sets it. Here both networks are null, as a
    request may set them, because a network template makes the engine call
    Neutron during deploy.
    """
    return {
        "?": {"id": environment_id, "type": ENVIRONMENT_CLASS, "metadata": {}},
        "name": name,
        "defaultNetworks": {"environment": None, "flat": None},
        "applications": list(applications),
    }


def build_deploy_task(
    environment,
    project_id=DEFAULT_PROJECT_ID,
    user_id=DEFAULT_USER_ID,
    token=DEFAULT_TOKEN,
):
    """Return the task that deploys ``environment``, keyed by its id.

    The model has no ``ObjectsCopy`` because this is a first deployment:
    murano-api sends ``ObjectsCopy`` only from the model that the engine
    returned for an earlier deployment of the same environment.
    """
    environment_id = environment["?"]["id"]
    return {
        "action": {"object_id": environment_id, "method": "deploy", "args": {}},
        "model": {
            "Objects": environment,
            "Attributes": [],
            "project_id": project_id,
            "user_id": user_id,
        },
        "token": token,
        "project_id": project_id,
        "user_id": user_id,
        "id": environment_id,
    }
