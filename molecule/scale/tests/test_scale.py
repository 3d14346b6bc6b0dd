"""Scaling up and down with the real broker and systemd."""

import threading
import time

import engine_checks as checks

testinfra_hosts = ["ansible://mscale"]

PORT = 5711


def test_converged_with_four(host):
    units = checks.instance_units(host)
    assert sorted(units) == checks.units_for(4)
    assert set(units.values()) == {"active"}


def test_scale_up_keeps_running_pids(host):
    before = checks.pids(host, checks.units_for(4))
    checks.converge("-e", "engine_workers=6")
    after = checks.pids(host, checks.units_for(4))
    assert after == before
    states = checks.wait_active(host, checks.units_for(6), timeout=10)
    assert set(states.values()) == {"active"}
    assert checks.enabled_units(host) == sorted(checks.units_for(6))


def test_scale_down_from_any_state(host):
    # 6: running and enabled (left as is).
    # 5: enabled but stopped.
    host.run_expect([0], "systemctl stop murano-engine@5.service")
    # 7: started by hand, never enabled.
    host.run_expect([0], "systemctl start --no-block murano-engine@7.service")
    # 8: failed, through a runtime drop-in that makes it exit at once.
    host.run_expect([0], "mkdir -p /run/systemd/system/murano-engine@8.service.d")
    host.run_expect(
        [0],
        "printf '[Service]\\nExecStart=\\nExecStart=/bin/false\\nRestart=no\\nType=simple\\n' "
        "> /run/systemd/system/murano-engine@8.service.d/fail.conf",
    )
    host.run_expect([0], "systemctl daemon-reload")
    host.run("systemctl start murano-engine@8.service")
    # Type=simple counts as started before /bin/false has exited.
    deadline = time.monotonic() + 60
    while checks.show(host, "murano-engine@8.service", "ActiveState") != "failed":
        assert time.monotonic() < deadline, "murano-engine@8 did not fail"
        time.sleep(0.5)
    checks.wait_active(host, ["murano-engine@7.service"], timeout=120)

    keep = checks.pids(host, checks.units_for(3))
    checks.converge("-e", "engine_workers=3")

    host.run_expect([0], "rm -r /run/systemd/system/murano-engine@8.service.d")
    host.run_expect([0], "systemctl daemon-reload")
    units = checks.instance_units(host)
    for unit in checks.units_for(3):
        assert units.get(unit) == "active", unit
    # systemd may keep a stopped instance loaded while the target it was
    # part of stays loaded; it must be stopped, disabled and not failed.
    for unit, state in units.items():
        if unit not in checks.units_for(3):
            assert state == "inactive", f"{unit} is {state}"
            assert checks.show(host, unit, "UnitFileState") == "disabled", unit
            assert checks.show(host, unit, "MainPID") == "0", unit
    assert checks.enabled_units(host) == sorted(checks.units_for(3))
    assert checks.pids(host, checks.units_for(3)) == keep
    assert checks.wait_consumers(host, 3) == 3


def test_scale_down_under_load_loses_nothing(host):
    checks.converge("-e", "engine_workers=6")
    outcome = {}

    def submit():
        outcome["result"] = checks.submit(
            PORT,
            "--count",
            "40",
            "--workload",
            "wait",
            "--seconds",
            "6",
            "--timeout",
            "400",
        )

    client = threading.Thread(target=submit)
    client.start()
    # Let every instance take tasks, then scale down while they hold them.
    time.sleep(8)
    checks.converge("-e", "engine_workers=2")
    client.join(timeout=600)
    exit_code, figures = outcome["result"]
    summary = figures["summary"]
    assert summary["done"] == 40
    assert summary["missing"] == 0
    assert summary["failed"] == 0
    assert exit_code == 0
    units = checks.instance_units(host)
    active = [unit for unit, state in units.items() if state == "active"]
    assert sorted(active) == checks.units_for(2)
