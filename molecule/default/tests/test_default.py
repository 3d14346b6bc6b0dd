"""Checks of a bare host converged with engine_workers: 3."""

import re
import time

import engine_checks as checks
import pytest

testinfra_hosts = ["ansible://mdefault"]

COUNT = 3
PORT = 5701
UNITS = [f"murano-engine@{i}.service" for i in range(1, COUNT + 1)]


def test_exactly_three_instances_active(host):
    units = checks.instance_units(host)
    assert sorted(units) == UNITS
    for unit in UNITS:
        assert units[unit] == "active", unit


def test_instances_enabled_in_target(host):
    assert checks.enabled_units(host) == UNITS
    assert host.service("murano-engine.target").is_enabled
    assert host.service("murano-engine.target").is_running


@pytest.mark.parametrize("unit", UNITS)
def test_instance_is_one_process(host, unit):
    pid = checks.main_pid(host, unit)
    assert pid > 0
    children = host.run(f"pgrep --parent {pid}")
    assert children.stdout.strip() == "", f"{unit} (PID {pid}) has children"
    cgroup_pids = show_cgroup_pids(host, unit)
    assert cgroup_pids == [pid]


def show_cgroup_pids(host, unit):
    # Test hosts see a hybrid hierarchy, where systemd's own tree lists the
    # processes; a host with the unified hierarchy only has the second path.
    path = checks.show(host, unit, "ControlGroup")
    for root in ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup"):
        procs = host.file(f"{root}{path}/cgroup.procs")
        if procs.exists:
            return [int(pid) for pid in procs.content_string.split() if pid != "0"]
    raise AssertionError(f"no cgroup.procs for {unit} at {path}")


@pytest.mark.parametrize("unit", UNITS)
def test_instance_in_shared_slice(host, unit):
    assert checks.show(host, unit, "Slice") == "murano-engine.slice"
    assert checks.show(host, unit, "User") == "murano"
    assert checks.show(host, unit, "Restart") == "always"
    assert checks.show(host, unit, "Type") == "notify"


def test_slice_limits_are_set(host):
    # Inside a test host the cgroup controllers are read-only, so these limits
    # are configured on the slice but not enforced; this checks the setting.
    assert checks.show(host, "murano-engine.slice", "CPUQuotaPerSecUSec") == "1.800000s"
    assert checks.show(host, "murano-engine.slice", "MemoryMax") == str(6 * 1024**3)
    assert checks.show(host, "murano-engine.slice", "TasksMax") == "2048"


def test_instances_pin_one_worker(host):
    pinned = host.file("/etc/murano/murano-engine-instance.conf")
    assert pinned.contains("^engine_workers = 1$")
    for unit in UNITS:
        assert "murano-engine-instance.conf" in checks.show(host, unit, "ExecStart")


def test_packaged_unit_masked(host):
    assert checks.show(host, "murano-engine.service", "LoadState") == "masked"
    assert checks.show(host, "murano-engine.service", "ActiveState") == "inactive"


def test_tasks_queue_has_three_consumers(host):
    assert checks.queue_info(host, "tasks") is not None, "queue tasks does not exist"
    assert checks.wait_consumers(host, COUNT) == COUNT


def test_sixty_deployments_all_answered(host):
    exit_code, figures = checks.submit(
        PORT,
        "--count",
        "60",
        "--workload",
        "wait",
        "--seconds",
        "1",
        "--timeout",
        "300",
    )
    assert figures is not None, "murano-engine-submit wrote no figures"
    summary = figures["summary"]
    assert summary["done"] == 60
    assert summary["failed"] == 0
    assert summary["missing"] == 0
    assert exit_code == 0
    by_engine = summary["results_by_engine"]
    for index in range(1, COUNT + 1):
        label = f"mdefault/{index}"
        assert by_engine.get(label, 0) > 0, f"instance {index} did no task: {by_engine}"


def test_submit_deletes_its_result_queue(host):
    queues = checks.rabbitmqctl_json(host, "list_queues", "-p", checks.VHOST, "name")
    left = [
        q["name"]
        for q in queues
        if q["name"].startswith("results.murano-engine-submit-")
    ]
    assert left == []


def test_status_playbook_lists_everything(host):
    result = checks.run_playbook("playbooks/status.yml", timeout=300)
    output = result.stdout
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "changed=0" in output
    for index in range(1, COUNT + 1):
        assert re.search(rf"engine@{index}\s+active\s", output), (
            f"engine@{index} is not listed as active"
        )
    assert "murano-engine.slice active" in output
    assert "slice tasks" in output
    assert "tasks.dead-letter" in output


def test_killed_instance_restarts_ready(host):
    unit = UNITS[0]
    old_pid = checks.main_pid(host, unit)
    host.run(f"kill -9 {old_pid}")
    deadline = time.monotonic() + 60
    new_pid = old_pid
    while time.monotonic() < deadline:
        new_pid = checks.main_pid(host, unit)
        if new_pid not in (0, old_pid):
            break
        time.sleep(0.5)
    assert new_pid not in (0, old_pid), f"{unit} was not restarted"
    states = checks.wait_active(host, [unit], timeout=120)
    assert states[unit] == "active"
    assert int(checks.show(host, unit, "NRestarts")) >= 1


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_bad_worker_count_changes_nothing(host, value):
    before = checks.host_snapshot(host)
    result = checks.run_playbook("site.yml", "-e", f"engine_workers={value}")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "engine_workers is" in output
    assert value in output
    assert "Set engine_workers" in output
    after = checks.host_snapshot(host)
    assert after == before
