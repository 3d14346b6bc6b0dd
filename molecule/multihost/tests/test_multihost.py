"""One broker, three engine hosts, counts from group_vars and host_vars."""

import engine_checks as checks
import pytest
import testinfra

testinfra_hosts = ["ansible://mmulti-broker"]

PORT = 5751
EXPECTED = {"mmulti-engine1": 2, "mmulti-engine2": 3, "mmulti-engine3": 2}


def engine_host(name):
    return testinfra.get_host(
        f"ansible://{name}", ansible_inventory=checks.inventory_file()
    )


@pytest.mark.parametrize(("name", "count"), sorted(EXPECTED.items()))
def test_each_host_runs_its_count(name, count):
    engine = engine_host(name)
    units = checks.instance_units(engine)
    assert sorted(units) == checks.units_for(count)
    assert set(units.values()) == {"active"}


def test_broker_host_runs_no_engine(host):
    assert checks.instance_units(host) == {}
    assert (
        not host.package("murano-engine").is_installed
        or not host.file("/etc/systemd/system/murano-engine@.service").exists
    )


def test_all_engines_consume_one_queue(host):
    expected = sum(EXPECTED.values())
    assert checks.wait_consumers(host, expected) == expected


def test_deployments_reach_every_host(host):
    exit_code, figures = checks.submit(
        PORT, "--count", "60", "--workload", "wait", "--seconds", "1"
    )
    summary = figures["summary"]
    assert summary["done"] == 60
    assert summary["missing"] == 0
    assert exit_code == 0
    by_host = {}
    for label, results in summary["results_by_engine"].items():
        by_host.setdefault(label.split("/")[0], 0)
        by_host[label.split("/")[0]] += results
    for name in EXPECTED:
        assert by_host.get(name, 0) > 0, f"{name} did no task: {by_host}"


def test_extra_vars_override_both(host):
    checks.converge("-e", "engine_workers=1", "--limit", "murano_broker:mmulti-engine2")
    engine = engine_host("mmulti-engine2")
    assert checks.active_units(engine) == checks.units_for(1)
    # Hosts outside --limit keep their counts.
    assert checks.active_units(engine_host("mmulti-engine1")) == checks.units_for(2)
