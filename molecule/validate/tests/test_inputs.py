"""Input validation: every variable documented, every bad value rejected early."""

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import engine_checks as checks
import pytest
import yaml

testinfra_hosts = ["ansible://mvalidate"]

PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
ROLES = ["murano_engine", "rabbitmq"]

# Each case: extra variables, then fragments the failure output must contain.
# A password never appears in a message, so those cases list only the name.
BAD_VALUES = [
    ({"engine_workers": 0}, ["engine_workers is 0,", "Set engine_workers"]),
    ({"engine_workers": -1}, ["engine_workers is -1,", "Set engine_workers"]),
    ({"engine_workers": "two"}, ['engine_workers is "two",', "Set engine_workers"]),
    ({"engine_workers": 1.5}, ["engine_workers is 1.5,", "Set engine_workers"]),
    ({"engine_workers": None}, ["engine_workers is null,", "Set engine_workers"]),
    ({"engine_workers": 1000000}, ["engine_workers is 1000000,", "from 1 to 128"]),
    ({"engine_workers": True}, ["engine_workers is true,", "Set engine_workers"]),
    (
        {"murano_engine_slice_cpu_quota": "150"},
        ['murano_engine_slice_cpu_quota is "150"', "a percentage"],
    ),
    (
        {"murano_engine_slice_cpu_quota": "-5%"},
        ['murano_engine_slice_cpu_quota is "-5%"'],
    ),
    (
        {"murano_engine_slice_memory_max": "4X"},
        ['murano_engine_slice_memory_max is "4X"', "K, M, G or T suffix"],
    ),
    (
        {"murano_engine_slice_memory_high": "lots"},
        ['murano_engine_slice_memory_high is "lots"'],
    ),
    (
        {"murano_engine_slice_tasks_max": "-1"},
        ['murano_engine_slice_tasks_max is "-1"', "a count"],
    ),
    (
        {"murano_engine_slice_tasks_max": "many"},
        ['murano_engine_slice_tasks_max is "many"'],
    ),
    (
        {"murano_engine_packages_dir": "relative/packages"},
        ['murano_engine_packages_dir is "relative/packages"', "absolute"],
    ),
    (
        {"murano_engine_packages_dir": "/var/lib/../etc"},
        ['murano_engine_packages_dir is "/var/lib/../etc"', 'no ".."'],
    ),
    (
        {"murano_engine_packages_dir": "/usr"},
        ['murano_engine_packages_dir is "/usr"', "not a system directory"],
    ),
    (
        {"murano_engine_runner_dir": "/usr/lib/murano tools/"},
        ['murano_engine_runner_dir is "/usr/lib/murano tools/"'],
    ),
    (
        {"murano_engine_runner_dir": "/tmp"},
        ['murano_engine_runner_dir is "/tmp"', "not under /tmp"],
    ),
    # Checked on the converged host in the validate play, before the broker
    # play could change the engines' password.
    (
        {
            "murano_engine_config": {"DEFAULT": {"debug": "maybe"}},
            "rabbitmq_murano_password": "Another-valid-password-0123456789",
        },
        ["murano.conf was rejected", "debug"],
    ),
    ({"rabbitmq_amqp_port": 0}, ["rabbitmq_amqp_port is 0;", "from 1 to 65535"]),
    (
        {"rabbitmq_amqp_port": 70000},
        ["rabbitmq_amqp_port is 70000;", "from 1 to 65535"],
    ),
    (
        {"rabbitmq_dist_port": "amqp"},
        ["argument 'rabbitmq_dist_port' is of type str", "int"],
    ),
    ({"rabbitmq_murano_password": ""}, ["rabbitmq_murano_password is missing"]),
    (
        {"rabbitmq_murano_password": "Sh0rtSecret"},
        ["rabbitmq_murano_password has 11 characters", "at least"],
    ),
    (
        {"rabbitmq_murano_password": "white space inside 0123456789"},
        ["rabbitmq_murano_password contains white space"],
    ),
]

# Transport URLs built around the scenario's real password, which must not
# show in the failure output. "{password}" is replaced before the run.
BAD_URLS = [
    "",
    "amqp://murano:{password}@127.0.0.1:5811//murano",
    "rabbit://murano:{password}@127.0.0.1:port//murano",
    "rabbit://murano:{password}@/murano",
    "rabbit://murano:{password}@127.0.0.1:5811",
    "rabbit://murano:{password}@bad host:5811//murano",
    "rabbit:/murano:{password}/127.0.0.1:5811//murano",
]


def load_yaml(path):
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("role", ROLES)
def test_every_default_has_a_spec(role):
    defaults = load_yaml(PROJECT / "roles" / role / "defaults" / "main.yml")
    specs = load_yaml(PROJECT / "roles" / role / "meta" / "argument_specs.yml")
    options = specs["argument_specs"]["main"]["options"]
    for name, value in defaults.items():
        assert name in options, f"{role}: {name} has no argument spec"
        option = options[name]
        assert "type" in option, f"{role}: {name} has no type"
        assert "description" in option, f"{role}: {name} has no description"
        assert "default" in option, f"{role}: {name} has no default"
        assert option["default"] == value, f"{role}: {name} default differs"


@pytest.mark.parametrize("role", ROLES)
def test_every_spec_is_a_default(role):
    defaults = load_yaml(PROJECT / "roles" / role / "defaults" / "main.yml")
    specs = load_yaml(PROJECT / "roles" / role / "meta" / "argument_specs.yml")
    options = specs["argument_specs"]["main"]["options"]
    # engine_workers has no default on purpose: unset means one per CPU.
    undocumented = set(options) - set(defaults) - {"engine_workers"}
    assert undocumented == set(), f"{role}: specs without a default: {undocumented}"


def test_engine_workers_is_raw():
    specs = load_yaml(
        PROJECT / "roles" / "murano_engine" / "meta" / "argument_specs.yml"
    )
    assert specs["argument_specs"]["main"]["options"]["engine_workers"]["type"] == "raw"


def run_validate_only(extra_vars):
    """Run site.yml with bad extra variables; return (exit code, output).

    The output's white space is collapsed, because the YAML callback folds
    long messages across lines.
    """
    result = checks.run_playbook("site.yml", "-e", json.dumps(extra_vars), timeout=180)
    output = " ".join((result.stdout + result.stderr).split())
    return result.returncode, output


def url_case(url):
    return {
        "murano_engine_transport_url": url.format(password=checks.scenario_password())
    }


@pytest.fixture(scope="module")
def rejected_runs(host):
    """Run every bad case, three at a time, between two host snapshots.

    Each run must stop in the validate play, so the host is the same after
    all of them: unit files, configuration, PIDs and enabled instances.
    """
    cases = [extra_vars for extra_vars, _ in BAD_VALUES]
    cases += [url_case(url) for url in BAD_URLS]
    before = checks.host_snapshot(host)
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(run_validate_only, cases))
    after = checks.host_snapshot(host)
    return {
        "before": before,
        "after": after,
        "results": {
            json.dumps(case, sort_keys=True): result
            for case, result in zip(cases, results)
        },
    }


def check_rejected(rejected_runs, extra_vars):
    code, output = rejected_runs["results"][json.dumps(extra_vars, sort_keys=True)]
    assert code != 0, output[-3000:]
    assert "PLAY [Validate the inventory before changing any host]" in output
    assert "PLAY [Install RabbitMQ for the Murano engines]" not in output
    assert "PLAY [Run the Murano engines" not in output
    return output


def test_rejected_runs_change_nothing(rejected_runs):
    assert rejected_runs["after"] == rejected_runs["before"]


@pytest.mark.parametrize(
    ("extra_vars", "fragments"),
    BAD_VALUES,
    ids=[json.dumps(case[0]) for case in BAD_VALUES],
)
def test_bad_value_rejected(rejected_runs, extra_vars, fragments):
    output = check_rejected(rejected_runs, extra_vars)
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} missing from: {output[-3000:]}"
    for name, value in extra_vars.items():
        if "password" in name and value:
            assert value not in output, f"{name} shown in the output"


@pytest.mark.parametrize("url", BAD_URLS)
def test_bad_transport_url_rejected(rejected_runs, url):
    output = check_rejected(rejected_runs, url_case(url))
    assert "murano_engine_transport_url is" in output
    assert "rabbit://USER:PASSWORD@HOST:PORT/VHOST" in output
    assert checks.scenario_password() not in output
